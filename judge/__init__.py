"""Tastevin judge: rubrics, rule checks, the Anthropic LLM judge and the periodic scoring job."""
