"""System identification: fit DynamicsParams to what a robot reported for known commands.

record (``excitation``) -> save/load (``trajectory_file``) -> the declared stages
(``stages``, ordered by ``plan``, run by ``fit``), each reading what sees its fields:
the object at rest (``resting``), command responses (``latency``), torques (``saturation``,
``gravity``, ``weighing``), contacts (``geometry``), replays (``replay``, ``simulate``,
``replay_fit``: ``gains``, ``squeeze``, ``contact_stages``, ``noise``) -> whether the fit explains
the data (``explained``: against recordings simulated from the fitted model) -> the fitted profile,
narrowed randomization, plot and report (``report``). ``pipeline`` strings them together
as the ``simreal record`` and ``simreal calibrate`` verbs do; ``correction`` deploys fitted
encoder offsets in the driver; ``bench`` measures it over a family of target profiles.
"""

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
    "record",
    "record_robot",
    "run_calibration",
    "save_recording",
]
