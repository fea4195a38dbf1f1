"""The ``gpu`` marker (tests/report/test_gpu.py): tests that need CUDA; they skip, with the reason, without it."""


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "gpu: runs on CUDA (skipped with a reason where CUDA is not available)"
    )
