"""Sample-quality metrics: SWD (no pretrained network), FID and KID (Inception-v3), originality."""
