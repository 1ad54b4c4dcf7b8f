"""The neural renderer (DESIGN §4): StyleTalk's PIRenderer turns a bfm track and a portrait into video.

``pipeline.render_video`` is the entry point; ``model`` holds the network, ``loader`` the strict checkpoint
loader, ``windows`` the coefficient windows, ``portrait`` the image input and ``video`` the mp4 writer.
Nothing is imported here, so ``core.render.windows`` stays usable without torch.
"""
