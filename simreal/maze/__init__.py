"""Grid-world mazes (on minigrid) and DQN feature transfer between them, measured against learning from scratch.

Modules, one concept each: ``env`` (a layout as a minigrid env with a channel-image view),
``network`` (the CNN feature layers and the progressive column), ``agent`` (SB3 DQN with
per-layer rates and a validation curve), ``checkpoint`` (our pickle-free format),
``transfer`` (the transfer modes), ``metrics`` (jumpstart, time to threshold, asymptote, area
ratio, the negative-transfer guard), ``bench`` and ``plot``. Importing this package loads
neither torch nor minigrid.
"""
