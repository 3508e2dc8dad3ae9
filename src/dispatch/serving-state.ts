/**
 * Whether the control plane still serves. close() flips it first, so health checks answer
 * NOT_SERVING and long-lived watch streams end cleanly before the port closes.
 */
export class ServingState {
  private serving = true;
  private readonly listeners = new Set<() => void>();

  /** True until shutdown() is called. */
  get isServing(): boolean {
    return this.serving;
  }

  /** Marks the server as shutting down and tells every listener, once. */
  shutdown(): void {
    if (!this.serving) return;
    this.serving = false;
    for (const l of [...this.listeners]) l();
    this.listeners.clear();
  }

  /** Calls `listener` at shutdown (at once if already shut down); returns the unsubscribe function. */
  onShutdown(listener: () => void): () => void {
    if (!this.serving) {
      listener();
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Listeners waiting for shutdown, so tests can prove streams unsubscribe. */
  get listenerCount(): number {
    return this.listeners.size;
  }
}
