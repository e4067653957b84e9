"""Backends: where workflow executions live (Amazon SWF via boto3, or in memory for --local)."""
