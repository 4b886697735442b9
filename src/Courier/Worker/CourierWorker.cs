using Courier.Server;
using Courier.Transport.Internal;
using Courier.Worker.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Worker;

/// <summary>
/// Serves one service for a 7/MDP broker: registers, runs its handler on up to
/// <see cref="CourierWorkerOptions.Concurrency"/> requests at once, heartbeats while busy or idle, reconnects with
/// backoff when the broker goes away, and on a graceful stop finishes what it holds before saying DISCONNECT.
/// Works with any 7/MDP broker; with a Courier broker it also takes many requests at once and reports errors with status codes.
/// </summary>
public sealed class CourierWorker : IAsyncDisposable
{
    private readonly CourierWorkerOptions _options;
    private readonly CourierHandler _handler;
    private readonly ILogger _logger;
    private readonly ITransport _transport;
    private ITransportLoop? _loop;
    private WorkerEngine? _engine;
    private int _state; // 0 new, 1 running, 2 stopping, 3 stopped

    /// <summary>Creates a worker that serves <see cref="CourierWorkerOptions.Service"/> with <paramref name="handler"/>.</summary>
    public CourierWorker(CourierWorkerOptions options, CourierHandler handler)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        options.Validate();
        _options = options;
        _handler = handler;
        _logger = options.LoggerFactory.CreateLogger<CourierWorker>();
        _transport = TransportResolver.Resolve(options.Transport, _logger);
    }

    /// <summary>Requests being handled right now.</summary>
    public int InFlight => _engine?.InFlight ?? 0;

    /// <summary>Connects to the broker and registers. Returns at once; registration completes in the background and is retried until it succeeds.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The worker was already started.");
        }

        var loop = _transport.CreateLoop($"courier-worker-{_options.Name}", _logger);
        var engine = new WorkerEngine(_options, _handler, loop, _logger);
        _loop = loop;
        _engine = engine;
        var tick = TimeSpan.FromTicks(Math.Clamp(_options.HeartbeatInterval.Ticks / 10, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromMilliseconds(250).Ticks));
        loop.Start(tick, engine.OnTick, engine.OnTurnEnd);
        loop.Post(engine.Connect);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Graceful stop: takes no new work (a Courier broker gives it to other workers), finishes what it holds within
    /// <see cref="CourierWorkerOptions.DrainTimeout"/>, sends DISCONNECT, closes.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 2, 1) != 1)
        {
            return;
        }

        var loop = _loop!;
        var engine = _engine!;
        loop.Post(engine.BeginDrain);
        try
        {
            await engine.Drained.WaitAsync(_options.DrainTimeout, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Handlers still running are cancelled below; the broker requeues what the worker held.
        }
        finally
        {
            await engine.CancelHandlersAsync().ConfigureAwait(false);
            var said = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            loop.Post(() =>
            {
                engine.SayDisconnect();
                said.TrySetResult();
            });
            await Task.WhenAny(said.Task, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            loop.Dispose();
            Volatile.Write(ref _state, 3);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _engine?.Dispose();
    }
}
