using Courier.Server;
using Courier.Transport.Internal;
using Courier.Worker.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Worker;

/// <summary>
/// Serves one or more services for a 7/MDP broker: registers, runs each service's handler on up to its concurrency of
/// requests at once, heartbeats while busy or idle, reconnects with backoff when the broker goes away, and on a graceful
/// stop finishes what it holds before saying DISCONNECT. Works with any 7/MDP broker (one connection per service); with a
/// Courier broker it also takes many requests at once, reports errors with status codes, registers all its services on
/// one connection and is known there by its <see cref="CourierWorkerOptions.Name"/>. Given several brokers
/// (<see cref="CourierWorkerOptions.BrokerEndpoints"/>), it serves all of them at once, so that losing one loses no capacity.
/// </summary>
/// <example>
/// <code>
/// await using var worker = new CourierWorker(CourierWorkerOptions.Default with { BrokerEndpoint = "tcp://broker:5555", Name = "inv-1" })
///     .Map("inventory.get", GetAsync, concurrency: 16)
///     .Map("inventory.put", PutAsync);
/// await worker.StartAsync();
/// </code>
/// </example>
public sealed class CourierWorker : IAsyncDisposable
{
    private readonly CourierWorkerOptions _options;
    private readonly List<WorkerService> _services = [];
    private readonly ILogger _logger;
    private readonly ITransport _transport;
    // One loop and engine per broker (CourierWorkerOptions.BrokerEndpoints): each registers, heartbeats and reconnects on its own.
    private (ITransportLoop Loop, WorkerEngine Engine)[] _brokers = [];
    private int _state; // 0 new, 1 running, 2 stopping, 3 stopped

    /// <summary>Creates a worker without services: <see cref="Map"/> at least one before <see cref="StartAsync"/>.</summary>
    public CourierWorker(CourierWorkerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _logger = options.LoggerFactory.CreateLogger<CourierWorker>();
        _transport = TransportResolver.Resolve(options.Transport, _logger, options.Security.Enabled);
        // The certificates are read now: a bad file fails here, naming itself. Every connection then carries the keys.
        if (Security.Internal.ConnectorSecurity.Load(options.Security) is { } curve)
        {
            options = options with { Transport = options.Transport with { Curve = curve } };
        }

        _options = options;
    }

    /// <summary>
    /// Creates a worker that serves <see cref="CourierWorkerOptions.Service"/> with <paramref name="handler"/>, up to
    /// <see cref="CourierWorkerOptions.Concurrency"/> at once. <see cref="Map"/> may add more services.
    /// </summary>
    public CourierWorker(CourierWorkerOptions options, CourierHandler handler)
        : this(options)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Map(options.Service, handler);
    }

    /// <summary>Requests being handled right now, over all services.</summary>
    public int InFlight => Volatile.Read(ref _brokers).Sum(b => b.Engine.InFlight);

    /// <summary>The most services one worker maps: a Courier broker takes at most this many on one connection.</summary>
    public const int MaxServices = 256;

    /// <summary>
    /// Serves <paramref name="service"/> with <paramref name="handler"/>, replacing any earlier handler of that name. A
    /// Courier broker keeps up to <paramref name="concurrency"/> requests of this service outstanding to the worker
    /// (default <see cref="CourierWorkerOptions.Concurrency"/>), plus <paramref name="prefetch"/> waiting (default
    /// <see cref="CourierWorkerOptions.Prefetch"/>), whatever its other services hold. Call before <see cref="StartAsync"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not 1-255 bytes of printable UTF-8, or starts with <c>mmi.</c>.</exception>
    /// <exception cref="InvalidOperationException">The worker has started, or maps <see cref="MaxServices"/> services already.</exception>
    /// <param name="service">The service's name.</param>
    /// <param name="handler">Serves its requests.</param>
    /// <param name="concurrency">Its requests handled at once (default <see cref="CourierWorkerOptions.Concurrency"/>).</param>
    /// <param name="idempotent">
    /// False (the default): a request runs at most once; if this worker dies or stalls holding it, a Courier broker
    /// answers its caller "outcome unknown" (520). True: the broker may give such requests to another worker (courier/5).
    /// </param>
    /// <param name="prefetch">
    /// Its requests that may wait in the worker for a handler, at most its concurrency (default
    /// <see cref="CourierWorkerOptions.Prefetch"/>): 0 for a service whose handlers are slow or uneven, so that the broker
    /// gives what they cannot start at once to a worker that frees up first.
    /// </param>
    public CourierWorker Map(string service, CourierHandler handler, int? concurrency = null, bool idempotent = false, int? prefetch = null)
    {
        Protocol.Internal.ServiceNames.ThrowIfNotHostable(service, nameof(service));
        ArgumentNullException.ThrowIfNull(handler);

        var waiting = prefetch ?? _options.Prefetch;
        if (prefetch is < 0 || prefetch > CourierWorkerOptions.MaxOutstanding)
        {
            throw new ArgumentOutOfRangeException(nameof(prefetch), prefetch, $"Prefetch must be 0 or more, and at most {CourierWorkerOptions.MaxOutstanding:N0}.");
        }

        var running = concurrency ?? _options.Concurrency;
        // The service caps its prefetch at its concurrency: what it would declare decides.
        var mapped = running is > 0 and <= CourierWorkerOptions.MaxOutstanding ? new WorkerService(service, handler, running, idempotent, waiting) : null;
        if (mapped is null || mapped.Capacity > CourierWorkerOptions.MaxOutstanding)
        {
            throw new ArgumentOutOfRangeException(
                concurrency is null ? nameof(prefetch) : nameof(concurrency),
                concurrency ?? prefetch,
                $"Concurrency ({running}) must be positive, and with Prefetch ({waiting}, at most the concurrency) at most {CourierWorkerOptions.MaxOutstanding:N0}.");
        }

        if (Volatile.Read(ref _state) != 0)
        {
            throw new InvalidOperationException("Services must be mapped before the worker starts.");
        }

        var index = _services.FindIndex(s => s.Name == service);
        if (index >= 0)
        {
            _services[index] = mapped;
        }
        else if (_services.Count >= MaxServices)
        {
            throw new InvalidOperationException($"A worker serves at most {MaxServices} services on its connection (a broker refuses more); map the rest on another worker.");
        }
        else
        {
            _services.Add(mapped);
        }

        return this;
    }

    /// <summary>Connects to the broker and registers. Returns at once; registration completes in the background and is retried until it succeeds.</summary>
    /// <exception cref="InvalidOperationException">No service is mapped, or the worker was already started.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_services.Count == 0)
        {
            throw new InvalidOperationException("Map at least one service before starting the worker.");
        }

        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The worker was already started.");
        }

        var tick = TimeSpan.FromTicks(Math.Clamp(_options.HeartbeatInterval.Ticks / 10, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromMilliseconds(250).Ticks));
        var brokers = _options.Brokers;
        var started = new (ITransportLoop, WorkerEngine)[brokers.Count];
        for (var i = 0; i < brokers.Count; i++)
        {
            var loop = _transport.CreateLoop(brokers.Count == 1 ? $"courier-worker-{_options.Name}" : $"courier-worker-{_options.Name}-{i + 1}", _logger);
            // Each broker's engine counts its own running and waiting requests, on its own loop: its own copy of each service.
            var engine = new WorkerEngine(_options with { BrokerEndpoint = brokers[i], BrokerEndpoints = [] }, [.. _services.Select(s => s.Copy())], loop, _logger);
            started[i] = (loop, engine);
            loop.Start(tick, engine.OnTick, engine.OnTurnEnd, engine.OnStopped);
            loop.Post(engine.Connect);
        }

        Volatile.Write(ref _brokers, started);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Graceful stop: takes no new work (a Courier broker gives it to other workers), finishes what it holds within
    /// <see cref="CourierWorkerOptions.DrainTimeout"/>, sends DISCONNECT on every connection, and closes once each broker
    /// has read what it sent: a Courier broker confirms it (a probe after DISCONNECT, answered); for a 7/MDP broker, once
    /// the transport has written the large replies. That wait ends too when a broker was silent for the heartbeat liveness
    /// span, after <see cref="CourierWorkerOptions.DrainTimeout"/> again, or when <paramref name="cancellationToken"/> fires.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 2, 1) != 1)
        {
            return;
        }

        var brokers = _brokers;
        foreach (var (loop, engine) in brokers)
        {
            loop.Post(engine.BeginDrain);
        }

        try
        {
            await Task.WhenAll(brokers.Select(b => b.Engine.Drained)).WaitAsync(_options.DrainTimeout, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Handlers still running are cancelled below; the broker requeues what the worker held.
        }
        finally
        {
            await Task.WhenAll(brokers.Select(b => b.Engine.CancelHandlersAsync())).ConfigureAwait(false);
            await Task.WhenAll(brokers.Select(b => SayDisconnectAsync(b.Loop, b.Engine))).ConfigureAwait(false);
            await Task.WhenAll(brokers.Select(b => ConfirmReadAsync(b.Loop, b.Engine, cancellationToken))).ConfigureAwait(false);
            foreach (var (loop, _) in brokers)
            {
                loop.Dispose();
            }

            Volatile.Write(ref _state, 3);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        foreach (var (_, engine) in _brokers)
        {
            engine.Dispose();
        }
    }

    /// <summary>
    /// Waits until each broker has read the last replies, as far as the worker can know
    /// (<see cref="WorkerEngine.ConfirmRead"/>), for <see cref="CourierWorkerOptions.DrainTimeout"/> at most (a second
    /// one, after the drain's), or until the stop is cancelled: on the managed transport 30 of 300 replies of 64 KiB
    /// finished as a drain ended were lost when the socket closed once they had been handed over, and 6 to 14 when it
    /// closed once the transport had written them (StopFlushTests).
    /// </summary>
    private async Task ConfirmReadAsync(ITransportLoop loop, WorkerEngine engine, CancellationToken cancellationToken)
    {
        // Task.Delay takes no more than ~49 days; a DrainTimeout beyond that is as good as none.
        var limit = Task.Delay(TimeSpan.FromMilliseconds(Math.Min(_options.DrainTimeout.TotalMilliseconds, int.MaxValue)), cancellationToken);
        var asked = loop.ReadAsync(engine.ConfirmRead);
        if (await Task.WhenAny(asked, limit).ConfigureAwait(false) == asked)
        {
            await Task.WhenAny(asked.Result, limit).ConfigureAwait(false);
        }
    }

    private static async Task SayDisconnectAsync(ITransportLoop loop, WorkerEngine engine)
    {
        var said = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Post(() =>
        {
            engine.SayDisconnect();
            said.TrySetResult();
        });
        if (await Task.WhenAny(said.Task, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false) == said.Task)
        {
            // A DISCONNECT the socket refused (the broker had not read the last replies yet) is sent at the next ticks, for
            // a second at most; past that the broker learns of the stop from the closed connection.
            await Task.WhenAny(engine.Said, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false);
        }
    }
}
