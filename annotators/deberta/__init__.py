"""The DeBERTa model runtime, Spark-free: model folder, encoder, export."""
