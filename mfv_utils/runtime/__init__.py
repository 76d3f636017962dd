"""What every run shares: progress bars wherever the code runs (:mod:`.progress`) and a notebook's
session: seeds, output folder, stage timings (:mod:`.session`).
"""
