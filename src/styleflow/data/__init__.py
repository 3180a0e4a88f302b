"""Built-in material: the demo clip with known motion, the procedural style image and the sample photographs."""
