"""Networks: frozen classifiers with named layers (:mod:`.models`: the built-in Lite0-2 and AlexNet,
:class:`Unit`), any timm / torchvision model or ``nn.Module`` (:mod:`.any_model`), the speed levers of a
frozen network (:mod:`.frozen`) and receptive fields (:mod:`.receptive`).
"""
