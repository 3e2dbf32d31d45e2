"""From a trained model to artworks: seeds, truncation, latent walks, style mixing, work records."""
