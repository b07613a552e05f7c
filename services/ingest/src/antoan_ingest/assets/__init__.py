"""Files shipped with the package (fonts for the printable poster); read them with importlib.resources."""
