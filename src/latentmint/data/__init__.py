"""Reading photos safely, face detection, FFHQ-style alignment, dedupe, packing and credits."""
