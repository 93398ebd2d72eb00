"""Fine-tuning: jobs, the dataset plan, the training worker process and its parent side."""
