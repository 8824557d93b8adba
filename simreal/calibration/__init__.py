"""System identification: fit DynamicsParams to what a robot reported for known commands.

record (``excitation``) -> save/load (``trajectory_file``) -> replay in simulation
(``replay``, ``simulate``) -> fit (``fit``, ``parameters``, ``uncertainty``) -> write the
fitted profile, narrowed randomization, plot and report (``report``). ``pipeline``
strings them together as the ``simreal record`` and ``simreal calibrate`` verbs do.
"""

from .bench import CalibrationTiming, profile_fields, time_calibration
from .excitation import excite
from .fit import Fit, calibrate
from .pipeline import Calibration, load_all, record, run_calibration
from .replay import Replayer
from .trajectory_file import (
    CalibrationDataError,
    RecordedTrajectory,
    Recording,
    load_deploy_log,
    load_recording,
    save_recording,
)

__all__ = [
    "Calibration",
    "CalibrationDataError",
    "CalibrationTiming",
    "Fit",
    "RecordedTrajectory",
    "Recording",
    "Replayer",
    "calibrate",
    "excite",
    "load_all",
    "load_deploy_log",
    "load_recording",
    "profile_fields",
    "record",
    "run_calibration",
    "save_recording",
    "time_calibration",
]
