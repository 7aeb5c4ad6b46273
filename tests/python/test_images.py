# SPDX-License-Identifier: Apache-2.0
"""microsandbox.images (sync and async) against local registries
(tests/registry/registry.sh: anonymous and basic-auth docker-registry
instances) holding the busybox test image; a sandbox from the pulled
image."""
import asyncio
import os
import shutil
import subprocess

import pytest

import microsandbox as m
from microsandbox import aio, images

from conftest import BUILD, CHECKOUT


def _env(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                out[k] = v.strip('"')
    return out


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    for tool in ("docker-registry", "skopeo", "umoci"):
        if not shutil.which(tool):
            pytest.skip("%s is not installed" % tool)
    token_server = os.path.join(BUILD, "tests", "registry", "token_server")
    work = tmp_path_factory.mktemp("registry")
    imgs, regdir = work / "images", work / "reg"
    regdir.mkdir()
    sh = lambda *a: subprocess.run(a, check=True, capture_output=True,
                                   timeout=300)
    sh(os.path.join(CHECKOUT, "tests/images/build.sh"), str(imgs), "busybox")
    reg = os.path.join(CHECKOUT, "tests/registry/registry.sh")
    sh(reg, "start", str(regdir), token_server)
    try:
        env = _env(regdir / "env")
        env.update(_env(imgs / "images.env"))
        sh(os.path.join(CHECKOUT, "tests/images/push.sh"), str(imgs),
           env["REG_NOAUTH"], "busybox:latest")
        sh(os.path.join(CHECKOUT, "tests/images/push.sh"), str(imgs),
           env["REG_BASIC"], "--creds",
           "%s:%s" % (env["REG_USER"], env["REG_PASS"]), "busybox:latest")
        yield env
    finally:
        subprocess.run([reg, "stop", str(regdir)], capture_output=True)


def test_pull_list_get_remove(registry):
    ref = registry["REG_NOAUTH"] + "/busybox:latest"
    seen = []
    img = images.pull(ref, progress=lambda d, done, total:
                      seen.append((d, done, total)))
    assert isinstance(img, m.Image)
    assert img.digest == registry["IMG_BUSYBOX_DIGEST"]
    assert img.reference.endswith("/busybox:latest")
    assert img.id.startswith("sha256:") and len(img.short_id) == 12
    assert img.size > 0 and img.platform == "linux/amd64"
    assert img.cmd == ["/bin/sh"]
    assert seen and all(d.startswith("sha256:") for d, _, _ in seen)
    assert seen[-1][1] == seen[-1][2]  # the last report: all of it
    # (other tests' sandboxes may have stored images too)
    assert img.reference in [i.reference for i in images.list()]
    assert images.get(ref).id == img.id
    assert images.get(img.short_id).digest == img.digest
    # a sandbox of the pulled image, without the network
    with m.Sandbox.create(image=ref, pull_policy="never") as s:
        assert s.exec("sh", ["-c", "echo from-image"]).stdout == \
            "from-image\n"
        with pytest.raises(m.StateError):
            images.remove(ref)  # in use
    images.remove(ref)
    assert img.reference not in [i.reference for i in images.list()]
    with pytest.raises(m.ImageNotFound):
        images.get(ref)
    assert images.prune() >= 0


def test_image_errors(registry):
    with pytest.raises(m.ImageNotFound) as ei:
        images.pull(registry["REG_NOAUTH"] + "/no-such-image:latest")
    assert isinstance(ei.value, m.NotFoundError)
    with pytest.raises(m.ImageNotFound):
        images.pull("busybox:latest", policy="never")
    with pytest.raises(m.ImageNotFound):
        images.remove("no-such-image")
    with pytest.raises(m.InvalidArgumentError):
        images.pull("UPPER/Case::bad")
    with pytest.raises(m.AuthError):
        images.pull(registry["REG_BASIC"] + "/busybox:latest",
                    username=registry["REG_USER"], password="wrong")
    with pytest.raises(ValueError):
        images.pull("x", policy="sometimes")
    with pytest.raises(m.ImageNotFound):
        m.Sandbox.create(image=registry["REG_NOAUTH"] + "/nothing:here")


def test_async_images(registry):
    ref = registry["REG_BASIC"] + "/busybox:latest"

    async def main():
        loop_thread = []
        img = await aio.images.pull(
            ref, username=registry["REG_USER"],
            password=registry["REG_PASS"],
            progress=lambda *a: loop_thread.append(a))
        assert img.digest == registry["IMG_BUSYBOX_DIGEST"]
        await asyncio.sleep(0)  # progress calls are scheduled on the loop
        assert loop_thread
        assert img.reference in [i.reference for i in
                                 await aio.images.list()]
        assert (await aio.images.get(ref)).id == img.id
        await aio.images.remove(ref)
        with pytest.raises(m.ImageNotFound):
            await aio.images.get(ref)
        assert await aio.images.prune() >= 0

    asyncio.run(main())
