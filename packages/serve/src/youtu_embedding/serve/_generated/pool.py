"""The descriptor pool of the service's protos, apart from protobuf's default pool.

Keeps ``tei.v1`` from colliding with other packages that register the same TEI protos
(e.g. ``tei-client``) in the default pool.
"""

from google.protobuf import descriptor_pool

POOL = descriptor_pool.DescriptorPool()
