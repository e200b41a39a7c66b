"""How large the absolute-position signal is beside the item embeddings in trained runs -> a CSV the notebooks read.

The checkpoints (best.pt) stay out of git, so this reads them where the runs were trained and writes a small table that is
committed:  python tools/embedding_rms.py results/positional/ml-1m   (-> results/positional/ml-1m/embedding-rms.csv)
Rows already in that file for runs whose checkpoints are not here are kept; runs measured now replace their rows.

Per finished run (a metrics.json beside a best.pt of the same best epoch; a run being continued is skipped): the RMS of the
item embeddings (padding row excluded) and of the absolute-position table that is added to them before the embedding
LayerNorm (learned APE, EulerFormer's APE, or the fixed sinusoidal table, times its gain where that is learned; none for
RoPE), at the best epoch, and their ratio. The measurement is `eulerrec.analysis.embedding_rms` (nbs/13b_analysis.ipynb).
"""
import sys
from eulerrec.analysis import embedding_rms

def main(folder: str): embedding_rms(folder)

if __name__ == '__main__': main(*sys.argv[1:])
