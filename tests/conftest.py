import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get('EULERREC_SHARED_DATA') or os.environ.get('EULERREC_DATA') or ROOT.parent/'shared'/'data')


def pytest_configure(config):
    config.addinivalue_line('markers', 'notebook: executes a notebook from nbs/')
    config.addinivalue_line('markers', 'slow: long-running (minutes)')


@pytest.fixture(scope='session')
def shared_data():
    "The workspace's ../shared/data folder (skips when a checkout has none)."
    if not SHARED.is_dir(): pytest.skip(f'no shared data folder at {SHARED}')
    return SHARED
