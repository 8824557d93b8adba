"""System identification: fit DynamicsParams to what a robot reported for known commands.

record (``excitation``) -> save/load (``trajectory_file``) -> replay in simulation
(``replay``, ``simulate``) -> fit (``fit``, ``parameters``, ``uncertainty``) -> write the
fitted profile, narrowed randomization, plot and report (``report``). ``pipeline``
strings them together as the ``simreal record`` and ``simreal calibrate`` verbs do;
``correction`` deploys fitted encoder offsets in the driver.
"""

from .bench import CalibrationTiming, profile_fields, time_calibration
from .correction import EncoderCorrection, encoder_offsets_from
from .excitation import excite
from .fit import Fit, calibrate
from .pipeline import Calibration, load_all, record, record_robot, run_calibration
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
    "EncoderCorrection",
    "Fit",
    "RecordedTrajectory",
    "Recording",
    "Replayer",
    "calibrate",
    "encoder_offsets_from",
    "excite",
    "load_all",
    "load_deploy_log",
    "load_recording",
    "profile_fields",
    "record",
    "record_robot",
    "run_calibration",
    "save_recording",
    "time_calibration",
]
