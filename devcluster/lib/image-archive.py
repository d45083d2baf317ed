#!/usr/bin/env python3
"""Writes a one-layer image archive (the `docker save` format, which
`ctr images import` reads) from files on this machine, with no Docker and no
registry. Used for the pod sandbox (pause) image.

usage: image-archive.py OUT.tar NAME:TAG --add SRC:DEST ... [--link DEST:TARGET ...]
                        [--entrypoint JSON] [--cmd JSON]
"""
import argparse
import hashlib
import io
import json
import tarfile


def layer_tar(adds, links):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for dest in [d for _, d in adds] + [d for d, _ in links]:
            parts = dest.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for src, dest in adds:
            with open(src, "rb") as f:
                data = f.read()
            info = tarfile.TarInfo(dest.strip("/"))
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        for dest, target in links:
            info = tarfile.TarInfo(dest.strip("/"))
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
            tar.addfile(info)
    return buf.getvalue()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("name")
    p.add_argument("--add", action="append", default=[], help="SRC:DEST")
    p.add_argument("--link", action="append", default=[], help="DEST:TARGET")
    p.add_argument("--entrypoint", type=json.loads)
    p.add_argument("--cmd", type=json.loads)
    a = p.parse_args()

    layer = layer_tar([x.split(":", 1) for x in a.add], [x.split(":", 1) for x in a.link])
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "launchbay devcluster image-archive.py"}],
    }
    if a.entrypoint is not None:
        config["config"]["Entrypoint"] = a.entrypoint
    if a.cmd is not None:
        config["config"]["Cmd"] = a.cmd
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_name = diff_id[len("sha256:"):] + "/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [a.name], "Layers": [layer_name]}]

    with tarfile.open(a.out, "w") as out:
        for name, data in [(config_name, config_bytes), (layer_name, layer),
                           ("manifest.json", json.dumps(manifest).encode())]:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            out.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main()
