"""A photo an association uploads (a project, what was done with it): checked, re-encoded.

Whatever arrives is distrusted: its size is checked before it is read, Pillow must recognise
it as JPEG, PNG or WebP (an SVG, a PDF or a script renamed ``.jpg`` are refused), its pixel
count is bounded before decoding (a decompression bomb is refused, not decoded), and what we
store is a new JPEG drawn from the pixels alone, turned upright and resized: no EXIF (GPS
position, camera serial), no ICC or XMP block, no trailing bytes survive.
"""

import io
import uuid
import warnings

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
# 40 megapixels: any phone's photo; a bomb declares far more and is refused before decoding.
MAX_PIXELS = 40_000_000
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
# What is stored and served: the longest side at most this, enough for a page and a poster.
STORED_SIDE = 1600


def clean_photo(upload) -> ContentFile:
    """The upload re-encoded as a metadata-free JPEG, or ``ValidationError`` in French."""
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(_("La photo est trop lourde (8 Mo au plus)."), code="photo_too_large")
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            # Pillow warns (not raises) between its limit and twice it: refused as a bomb too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise ValidationError(_not_a_photo(), code="photo_type")
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise ValidationError(_too_big(), code="photo_pixels")
                probe.verify()
            upload.seek(0)
            with Image.open(upload) as image:
                image.load()
                image = ImageOps.exif_transpose(image)
                image = image.convert("RGB")
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(_too_big(), code="photo_pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise ValidationError(_not_a_photo(), code="photo_type") from None
    image.thumbnail((STORED_SIDE, STORED_SIDE))
    out = io.BytesIO()
    # A fresh image: only pixels; no exif=, icc_profile= passed, so none is written.
    Image.frombytes("RGB", image.size, image.tobytes()).save(
        out, format="JPEG", quality=85, optimize=True
    )
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.jpg")


def _not_a_photo() -> str:
    return _("Ce fichier n’est pas une photo : choisissez une image JPEG, PNG ou WebP.")


def _too_big() -> str:
    return _("Cette image est trop grande (40 millions de pixels au plus).")
