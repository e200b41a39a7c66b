"""How large the absolute-position signal is beside the item embeddings in trained runs -> a CSV the notebooks read.

The checkpoints (best.pt) stay out of git, so this reads them where the runs were trained and writes a small table that is
committed:  python tools/embedding_rms.py results/positional/ml-1m   (-> results/positional/ml-1m/embedding-rms.csv)
Rows already in that file for runs whose checkpoints are not here are kept; runs measured now replace their rows.

Per finished run (a metrics.json beside a best.pt of the same best epoch; a run being continued is skipped): the RMS of the item embeddings (padding row excluded) and of the
absolute-position table that is added to them before the embedding LayerNorm (learned APE, EulerFormer's APE, or the fixed
sinusoidal table, times its gain where that is learned; none for RoPE), at the best epoch, and their ratio.
"""
import json, sys
from pathlib import Path
import pandas as pd, torch
from eulerrec.attention import EulerPositions, LearnedPositions, SinusoidalPositions
from eulerrec.models import model_class
from eulerrec.train import git_commit, load_checkpoint

def rms(t: torch.Tensor) -> float: return t.float().pow(2).mean().sqrt().item()

def position_table(scheme) -> torch.Tensor | None:
    "The absolute-position table a scheme adds at the input, or None (no absolute positions)."
    if isinstance(scheme, EulerPositions): scheme = scheme.ape
    if isinstance(scheme, LearnedPositions): return scheme.weight
    if isinstance(scheme, SinusoidalPositions): return scheme.positions()   # the fixed table, times its gain if learned
    return None

def main(folder: str):
    root = Path(folder)
    commit = git_commit()[:12]
    rows = []
    for run in sorted(p for p in root.iterdir() if (p/'metrics.json').is_file() and (p/'best.pt').is_file()):
        cfg = json.loads((run/'config.json').read_text())
        ck = load_checkpoint(run/'best.pt')
        best = json.loads((run/'metrics.json').read_text()).get('best_epoch')
        if ck.get('epoch') != best:  # a run being continued: its best.pt is newer than its metrics.json
            print(f'{run.name}: skipped, best.pt is from epoch {ck.get("epoch")} but metrics.json has best epoch {best} (a run in progress?)')
            continue
        model = model_class(cfg['model'])(**ck['model_config'])  # the checkpoint's config rebuilds the exact model
        model.load_state_dict(ck['model_state'])
        pos = position_table(getattr(model, 'pos_emb', None))
        item = rms(model.item_emb.weight[1:])
        p = rms(pos) if pos is not None else float('nan')
        rows.append(dict(run=run.name, model=cfg['model'], seed=int(cfg['seed']), best_epoch=ck.get('epoch'), item_rms=item,
                         position_rms=p, position_to_item=p / item, tool_commit=commit))
    out = root/'embedding-rms.csv'
    new = pd.DataFrame(rows)
    if out.is_file():  # keep the rows of runs whose checkpoints are not on this machine (they were measured where they trained)
        old = pd.read_csv(out)
        kept = old[~old.run.isin([r['run'] for r in rows])]
        if len(kept): print(f'kept {len(kept)} earlier row(s) without a checkpoint here: {", ".join(kept.run)}')
        new = pd.concat([kept, new]).sort_values('run') if rows else kept
    new.to_csv(out, index=False, float_format='%.5g')
    print(f'{out}: {len(new)} runs ({len(rows)} measured now)')

if __name__ == '__main__': main(*sys.argv[1:])
