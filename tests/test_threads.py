"""The thread policy: a run never starts more torch threads than there are free cores (`choose_threads`, 08_train)."""
import os, subprocess, sys, time
import torch
from eulerrec.train import TrainConfig, train, choose_threads, free_cores


def test_busy_cores_get_no_threads(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    cpus = len(os.sched_getaffinity(0))
    spinners = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(cpus)]   # every core busy
    try:
        time.sleep(1.0)
        assert free_cores() == 1
        assert choose_threads()[0] == 1 and choose_threads(3) == (3, 'as asked')
        before = torch.get_num_threads()
        res = train(TrainConfig(model='sasrec', epochs=1, epoch_steps=1, max_len=20, device='cpu', out=str(tmp_path/'run')),
                    progress=False)
        assert res['threads'] == 1 and '(1 thread(s): 1 free core(s)' in capsys.readouterr().out
        assert torch.get_num_threads() == before   # restored after the run
    finally:
        for p in spinners: p.kill()
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    assert choose_threads()[1] == '$OMP_NUM_THREADS'   # the environment's choice is kept
