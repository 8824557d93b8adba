"""World: one PyBullet client (DIRECT) holding a table-top scene and the robot's URDF."""

from __future__ import annotations

import math
from pathlib import Path

import pybullet
from pybullet_utils.bullet_client import BulletClient

from ..quiet import quiet_stdout
from ..specs import ObjectSpec, SceneSpec


class World:
    """Owns a private PyBullet physics client, so many worlds can live in one process."""

    def __init__(self, scene: SceneSpec) -> None:
        self.scene = scene
        with quiet_stdout():
            self.client = BulletClient(connection_mode=pybullet.DIRECT)
        self.id: int = self.client._client  # for hot paths: raw calls skip the wrapper
        physics = scene.physics
        self.client.setTimeStep(physics.timestep)
        self.client.setGravity(0.0, 0.0, physics.gravity)
        self.client.setPhysicsEngineParameter(numSolverIterations=physics.solver_iterations)
        self.table = self._make_table()

    @property
    def substeps(self) -> int:
        return self.scene.physics.substeps

    @property
    def control_period(self) -> float:
        return self.scene.physics.control_period

    def _make_table(self) -> int:
        s = self.scene
        half = [v / 2 for v in s.table_size]
        shape = self.client.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half)
        center = [s.table_center[0], s.table_center[1], s.table_height - half[2]]
        body = self.client.createMultiBody(0.0, shape, -1, center)
        self.client.changeDynamics(body, -1, lateralFriction=s.table_friction)
        return body

    def load_urdf(self, path: Path, base_position: tuple[float, float, float]) -> int:
        """Load a fixed-base URDF; raise FileNotFoundError with the path if it is missing."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"URDF not found: {path}")
        # no visual shapes: this client never renders (SceneView draws in a client of its own),
        # and parsing the visual meshes is most of what loading a URDF costs
        flags = pybullet.URDF_USE_INERTIA_FROM_FILE | pybullet.URDF_IGNORE_VISUAL_SHAPES
        with quiet_stdout():
            return self.client.loadURDF(str(path), base_position, useFixedBase=True, flags=flags)

    def make_object(self, spec: ObjectSpec, size_scale: float, mass: float, friction: float) -> int:
        """Create a primitive rigid body for ``spec`` with its size scaled."""
        size = [v * size_scale for v in spec.size]
        if spec.shape == "box":
            shape = self.client.createCollisionShape(pybullet.GEOM_BOX, halfExtents=[v / 2 for v in size])
        elif spec.shape == "cylinder":
            shape = self.client.createCollisionShape(pybullet.GEOM_CYLINDER, radius=size[0], height=size[1])
        else:
            shape = self.client.createCollisionShape(pybullet.GEOM_SPHERE, radius=size[0])
        body = self.client.createMultiBody(mass, shape, -1, [0.0, 0.0, -10.0])
        self.client.changeDynamics(
            body, -1, lateralFriction=friction, rollingFriction=spec.rolling_friction,
            spinningFriction=spec.spinning_friction,
        )
        return body

    def place(self, body: int, x: float, y: float, z: float, yaw: float) -> None:
        """Put a body at rest at a position with a yaw about the vertical axis."""
        quat = (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))
        self.client.resetBasePositionAndOrientation(body, (x, y, z), quat)
        self.client.resetBaseVelocity(body, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0))

    def step(self) -> None:
        """Advance one control period (``substeps`` physics steps)."""
        step, client = pybullet.stepSimulation, self.id
        for _ in range(self.scene.physics.substeps):
            step(physicsClientId=client)

    def close(self) -> None:
        if getattr(self, "client", None) is not None:
            try:
                self.client.disconnect()
            except pybullet.error:
                pass
            self.client = None
