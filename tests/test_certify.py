"""Content credentials: every format signs and reads back; changed pixels, stripped manifests and wrong
passwords are reported as such; the creativity record's figures are the studio's."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from latentmint.art.generate import generate, walk
from latentmint.art.works import load_work, select_works
from latentmint.data.dataset import Dataset
from latentmint.data.ingest import IngestOptions, ingest
from latentmint.errors import LatentmintError
from latentmint.gan.config import make_config
from latentmint.gan.train import train
from latentmint.provenance.certify import certify_work, trust_anchors
from latentmint.provenance.credentials import COMPOSITE, TRAINED, inspect_bytes, inspect_file, manifest_json
from latentmint.provenance.identity import create_identity, unlock
from latentmint.provenance.record import declare_edit
from latentmint.studio import init_studio

from conftest import copy_faces, dataset_or_skip, repaint_png

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
TINY = {"ngf": 8, "ndf": 8, "batch": 4, "steps": 20, "sample_every": 100, "ckpt_every": 100, "sample_seeds": 4}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A studio with credited photos, a tiny run, images, a GIF and an MP4 walk, a curation, an identity."""
    utk = dataset_or_skip("utk540")
    root = tmp_path_factory.mktemp("certify")
    faces = copy_faces(utk, root / "faces", 12)
    names = sorted(p.name for p in faces.glob("*.jpg"))
    rows = ["file,author,license"] + [f"{n},Photographer {i % 3},CC-BY-4.0" for i, n in enumerate(names[:8])]
    (faces / "credits.csv").write_text("\n".join(rows) + "\n")
    studio = init_studio(root / "studio")
    ingest(faces, studio, "faces", IngestOptions(resolution=64, aligned=True, workers=1, credits=faces / "credits.csv"))
    train(studio, "faces", "run", make_config("faces-64-cpu", TINY))
    images = generate(studio, "run", [1, 2, 3, 4], None, "cpu")
    gif = walk(studio, "run", [1, 2], frames=6, fmt="gif")
    mp4 = walk(studio, "run", [3, 4], frames=6, fmt="mp4")
    select_works(studio, [images[0].id, images[1].id])
    create_identity(studio, "Ada Artist", PASSWORD)
    return {"studio": studio, "images": images, "gif": gif, "mp4": mp4, "root": root}


def _certify(made: dict, work, **kw):
    studio = made["studio"]
    return certify_work(studio, load_work(studio, work.id), unlock(studio, PASSWORD), **kw)[0]


def _signed(work) -> Path:
    return work.root / work.record["certificate"]["file"]


def test_png_gif_and_mp4_sign_and_read_back_trusted(made: dict) -> None:
    studio = made["studio"]
    anchors = trust_anchors(studio)
    for work in (made["images"][0], made["gif"], made["mp4"]):
        certified = _certify(made, work)
        found = inspect_file(_signed(certified), anchors)
        assert found.credentials == "valid" and found.trusted, (work.file, found.reason)
        assert found.signer == "Ada Artist"
        assert found.creator_address == unlock(studio, PASSWORD).identity.address
        assert found.digital_source_type == TRAINED
        assert found.record["work"]["id"] == work.id
        # a reader without the studio's root still validates the signature, but does not call it trusted
        untrusted = inspect_file(_signed(certified))
        assert untrusted.credentials == "valid" and not untrusted.trusted and "trusted anchor" in untrusted.reason


def test_certify_is_idempotent_and_keeps_the_generated_file(made: dict) -> None:
    work = made["images"][0]
    before = work.file.read_bytes()
    first = _certify(made, work)
    again, new = certify_work(made["studio"], load_work(made["studio"], work.id), unlock(made["studio"], PASSWORD))
    assert not new and again.record["certificate"] == first.record["certificate"]
    assert work.file.read_bytes() == before
    assert json.loads((work.root / "creativity.json").read_text())["work"]["id"] == work.id


def test_a_declared_jpeg_edit_is_signed_with_the_generated_image_as_parent(made: dict) -> None:
    studio, work = made["studio"], made["images"][1]
    im = Image.open(work.file).convert("RGB")
    ImageDraw.Draw(im).rectangle([0, 0, 20, 8], fill=(220, 20, 20))
    edited = made["root"] / "edited.jpg"
    im.save(edited, quality=90)
    declare_edit(studio, load_work(studio, work.id), edited, "painted a red banner", "Krita")
    certified = _certify(made, work)
    assert _signed(certified).suffix == ".jpg"
    found = inspect_file(_signed(certified), trust_anchors(studio))
    assert found.credentials == "valid" and found.trusted
    assert found.digital_source_type == COMPOSITE
    assert found.record["edits"][0]["note"] == "painted a red banner" and "Krita" in found.record["summary"]
    store = manifest_json(_signed(certified))
    active = store["manifests"][store["active_manifest"]]
    parent = next(i for i in active["ingredients"] if i["relationship"] == "parentOf")
    # the parent carries its own manifest: the generated image, created by a trained model
    parent_manifest = store["manifests"][parent["active_manifest"]]
    created = next(a for a in parent_manifest["assertions"] if a["label"] == "c2pa.actions.v2")["data"]["actions"][0]
    assert created["action"] == "c2pa.created" and created["digitalSourceType"] == TRAINED
    with pytest.raises(LatentmintError, match="already certified"):
        declare_edit(studio, load_work(studio, work.id), edited, "again", None)
    signed = _signed(certified).read_bytes()
    tampered = _flip_byte(signed, signed.rindex(b"\xff\xda") + 64)  # inside the JPEG's scan data (0xFFDA cannot occur in it)
    found = inspect_bytes(tampered, "image/jpeg", trust_anchors(studio))
    assert found.credentials == "invalid" and "changed after it was signed" in found.reason


def _flip_png_pixel(data: bytes) -> bytes:
    """Change one pixel's red value, keeping every other chunk (the manifest too)."""

    def flip(image) -> None:
        r, g, b = image.getpixel((0, 0))
        image.putpixel((0, 0), (r ^ 1, g, b))

    return repaint_png(data, flip)


def _flip_byte(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _mp4_frame_byte(data: bytes) -> int:
    """An offset inside the video's samples: 64 bytes into the top-level mdat box (found by walking the boxes,
    not by searching for "mdat", which compressed frames may contain)."""
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        header = 8
        if size == 1:  # a 64-bit size follows the type
            size, header = struct.unpack(">Q", data[at + 8 : at + 16])[0], 16
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - at
        if kind == b"mdat":
            assert size > header + 64, size
            return at + header + 64
        at += size
    raise AssertionError("no mdat box")


def _gif_frame_byte(data: bytes) -> int:
    """An offset inside the last frame's LZW data, found by walking the GIF's blocks (a 0x2C byte can also occur
    inside compressed data, so searching for the image separator can land past the end)."""
    def skip_sub_blocks(at: int) -> int:
        while data[at]:
            at += data[at] + 1
        return at + 1

    def colour_table(flags: int) -> int:
        return 3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0

    at, last = 13 + colour_table(data[10]), None
    while data[at] != 0x3B:  # the trailer
        if data[at] == 0x21:  # an extension: label, then sub-blocks
            at = skip_sub_blocks(at + 2)
        else:  # an image: descriptor, local colour table, LZW code size, then its data sub-blocks
            assert data[at] == 0x2C, (at, data[at])
            at += 10 + colour_table(data[at + 9]) + 1
            last = at
            at = skip_sub_blocks(at)
    assert last is not None and data[last] > 1, "no frame data"
    return last + 1 + min(16, data[last] - 1)


def test_changing_one_pixel_after_signing_fails_validation(made: dict) -> None:
    anchors = trust_anchors(made["studio"])
    signed_png = _signed(_certify(made, made["images"][0])).read_bytes()
    flipped = _flip_png_pixel(signed_png)
    assert Image.open(io.BytesIO(flipped)).getpixel((0, 0)) != Image.open(io.BytesIO(signed_png)).getpixel((0, 0))
    found = inspect_bytes(flipped, "image/png", anchors)
    assert found.credentials == "invalid" and "changed after it was signed" in found.reason
    for work, fmt, payload in ((made["mp4"], "video/mp4", _mp4_frame_byte), (made["gif"], "image/gif", _gif_frame_byte)):
        signed = _signed(_certify(made, work)).read_bytes()
        found = inspect_bytes(_flip_byte(signed, payload(signed)), fmt, anchors)
        assert found.credentials == "invalid" and "changed after it was signed" in found.reason, (fmt, found.reason)


def test_a_stripped_manifest_reads_as_no_credentials(made: dict) -> None:
    signed = _signed(_certify(made, made["images"][0]))
    buf = io.BytesIO()
    Image.open(signed).save(buf, format="PNG")  # re-saving drops the manifest chunk, as most editors do
    assert inspect_bytes(buf.getvalue(), "image/png").credentials == "none"
    assert inspect_file(made["images"][2].file).credentials == "none"


def test_a_wrong_password_is_a_clear_error_and_nothing_is_written(made: dict) -> None:
    studio, work = made["studio"], made["images"][3]
    with pytest.raises(LatentmintError, match="wrong password"):
        unlock(studio, "not the password")
    assert not list(work.root.glob("certified*")) and "certificate" not in load_work(studio, work.id).record


def test_near_copies_are_refused_unless_allowed_and_then_recorded(made: dict) -> None:
    studio, work = made["studio"], made["images"][2]
    record = load_work(studio, work.id)
    record.record["originality"] = {**record.record["originality"], "near_copy": True, "ncc": 0.93}  # as the originality check writes it
    record.save()
    with pytest.raises(LatentmintError, match="near copy.*--allow-near-copy"):
        _certify(made, work)
    assert not list(work.root.glob("certified*"))
    certified = _certify(made, work, allow_near_copy=True)
    found = inspect_file(_signed(certified), trust_anchors(studio))
    assert found.record["originality"]["allowed_by_artist"] is True and "explicit choice" in found.record["summary"]


def test_the_record_counts_match_the_studio(made: dict) -> None:
    studio, work = made["studio"], made["images"][0]
    found = inspect_file(_signed(_certify(made, work)), trust_anchors(studio))
    record = found.record
    dataset = Dataset.load(studio.datasets / "faces")
    assert record["dataset"]["faces"] == len(dataset.faces) and record["dataset"]["hash"] == dataset.content_hash()
    credited = {c["author"]: c["faces"] for c in record["dataset"]["credits"]}
    expected = {}
    for face in dataset.faces:
        author = (face.get("credit") or {}).get("author", "uncredited")
        expected[author] = expected.get(author, 0) + 1
    assert credited == expected and len(expected) == 4  # three photographers + uncredited
    run = json.loads((studio.runs / "run" / "run.json").read_text())
    assert record["training"]["steps"] == run["step"] and record["training"]["changed_from_preset"] == run["changed_from_preset"]
    selections = json.loads((studio.works / "selections.json").read_text())[-1]
    assert record["curation"] == {"selected": True, "k": selections["k"], "of": selections["of"]}
    assert f"{selections['k']} chosen from {selections['of']}" in record["summary"]
    store = manifest_json(_signed(load_work(studio, work.id)))
    ingredients = store["manifests"][store["active_manifest"]]["ingredients"]
    assert sorted(i["instance_id"] for i in ingredients) == sorted(f"sha256:{h}" for h in dataset.source_hashes())
    assert all(i["relationship"] == "inputTo" for i in ingredients)
    mining = next(a for a in store["manifests"][store["active_manifest"]]["assertions"] if a["label"] == "cawg.training-mining")
    assert {e["use"] for e in mining["data"]["entries"].values()} == {"notAllowed"}


def test_a_forged_creator_address_is_reported(made: dict, tmp_path: Path) -> None:
    """Someone signing with their own key cannot claim the artist's address: the statement must verify."""
    studio = made["studio"]
    other = init_studio(tmp_path / "other")
    create_identity(other, "Mallory", PASSWORD)
    keys = unlock(other, PASSWORD)
    keys.identity = type(keys.identity)(keys.identity.name, unlock(studio, PASSWORD).identity.address, keys.identity.fingerprint, True)
    from latentmint.provenance import credentials as cr

    actions = {"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED}]}}
    manifest = {"title": "forged", "assertions": [actions, {"label": cr.CREATOR_LABEL, "data": cr.creator_assertion(keys)}]}
    forged = cr.sign(keys, manifest, "image/png", made["images"][3].file.read_bytes())
    found = inspect_bytes(forged, "image/png")
    assert found.credentials == "invalid" and "signed by" in found.reason


def test_the_thumbnail_is_no_larger_than_the_work(made: dict) -> None:
    """A 64 px work carries a thumbnail of at most 64 px, so credentials do not multiply the file's size."""
    import c2pa

    from latentmint.provenance.credentials import _context, mime_type

    for work in (made["images"][1], made["gif"]):
        signed = _signed(_certify(made, work))
        data = signed.read_bytes()
        with _context() as ctx, c2pa.Reader(mime_type(signed), io.BytesIO(data), context=ctx) as reader:
            thumbnail = reader.get_active_manifest()["thumbnail"]
            out = io.BytesIO()
            reader.resource_to_stream(thumbnail["identifier"], out)
        side = max(Image.open(work.file).size)
        assert max(Image.open(io.BytesIO(out.getvalue())).size) <= side
        assert len(out.getvalue()) < 4 * work.file.stat().st_size  # a thumbnail, not the bulk of the file
