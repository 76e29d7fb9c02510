"""Parties as processes (spec/23-deployment.md): the wire frame (D23.2), certificates, the
gRPC transport (D23.3) and the network channel that plays one party (D23.1).

The submodules are imported on use: ``sbrml.net.frames`` and ``service`` need only the
standard library, ``tls`` needs ``cryptography`` (a base dependency) and ``transport`` (with
its halves ``listener`` and ``sender``) and ``channel`` need the ``net`` extra (grpcio).
"""
