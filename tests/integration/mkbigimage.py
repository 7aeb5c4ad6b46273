#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# mkbigimage.py OUT N - an OCI image layout at OUT (tag "latest") with one
# gzip layer of N small files in folders of 1000: small to store and push,
# slow enough to flatten (about 2 s for 100000 here) for test_errors.sh to
# interrupt a pull while it flattens.
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    with open("%s/blobs/sha256/%s" % (out, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest


def main(out, nfiles):
    os.makedirs(out + "/blobs/sha256", exist_ok=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for d in range(nfiles // 1000 + 1):
            ti = tarfile.TarInfo("d%03d" % d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            tf.addfile(ti)
        for i in range(nfiles):
            data = (b"%d\n" % i) * 200
            ti = tarfile.TarInfo("d%03d/f%06d" % (i // 1000, i))
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    tar = raw.getvalue()
    layer = gzip.compress(tar, mtime=0)
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
        "config": {},
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": blob(out, config), "size": len(config)},
        "layers": [{"mediaType":
                    "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": blob(out, layer), "size": len(layer)}],
    }).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": blob(out, manifest),
            "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": "latest"},
        }],
    }
    with open(out + "/index.json", "w") as f:
        json.dump(index, f)
    with open(out + "/oci-layout", "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}')


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: mkbigimage.py OUT N")
    main(sys.argv[1], int(sys.argv[2]))
