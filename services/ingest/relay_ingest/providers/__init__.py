"""Provider adapters, one module each, all fitting the interfaces in `base`."""
