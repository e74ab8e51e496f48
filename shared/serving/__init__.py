"""Model servers started on 127.0.0.1: MLServer, the runtime KServe serves models with."""
