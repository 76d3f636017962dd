"""Apps for reading and teaching: the ipywidgets explorers (:mod:`.widgets`) and the server wrapper
that stops Voila / JupyterLab with its parent (:mod:`.serve`). The commands are ``mfv_utils.teach``
and ``mfv_utils.lab``.
"""
