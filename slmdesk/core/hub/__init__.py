"""Getting models from the Hugging Face Hub: a curated catalogue, search, and downloads that
resume and verify.

Nothing here touches the network on import. Requests go to ``HF_ENDPOINT`` (the Hub's own
variable, so mirrors work) only when a person searches, lists a repository's files or starts a
download, and never while the offline setting is on (:mod:`slmdesk.core.hub.access`).
"""
