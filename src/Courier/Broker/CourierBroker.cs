using Courier.Broker.Internal;
using Courier.Diagnostics.Internal;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Broker;

/// <summary>
/// A Majordomo (7/MDP) broker: clients and workers connect to one endpoint; each request goes to the least-loaded
/// worker of its service. Workers are heartbeated both ways; a dead worker's requests go back to the front of the
/// queue; a request that kills <see cref="CourierBrokerOptions.MaxWorkerDeaths"/> workers is answered with an error.
/// </summary>
public sealed class CourierBroker : IAsyncDisposable
{
    private readonly CourierBrokerOptions _options;
    private readonly ILogger _logger;
    private readonly ITransport _transport;
    private readonly Security.Internal.ListenerSecurity? _security;
    private ITransportLoop? _loop;
    private BrokerEngine? _engine;
    private IDisposable? _gauges;
    private int _state; // 0 new, 1 running, 2 stopped

    /// <summary>Creates a broker; <see cref="StartAsync"/> binds it.</summary>
    public CourierBroker(CourierBrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = options.LoggerFactory.CreateLogger<CourierBroker>();
        _transport = TransportResolver.Resolve(options.Transport, _logger, options.Security.Enabled);
        // Certificates, allow-list and policy are read now: a bad file fails here, naming itself, not on a loop thread.
        _security = Security.Internal.ListenerSecurity.Create(options.Security, "broker", _transport, _logger);
    }

    /// <summary>The endpoint actually bound; null before start.</summary>
    public string? Endpoint => _engine?.Endpoint;

    /// <summary>Requests the at-most-once ledger holds as in progress: back to zero once all are answered (tests).</summary>
    internal int TrackedInProgress => _engine?.TrackedInProgress ?? 0;

    /// <summary>The most bytes any one peer has handed to the transport and not yet written, read on the loop (tests).</summary>
    internal Task<long> LargestPendingBytesAsync()
    {
        var (engine, loop) = (_engine, _loop);
        return engine is null || loop is null ? Task.FromResult(0L) : loop.ReadAsync(() => engine.LargestPendingBytes);
    }

    /// <summary>The bytes of replies its at-most-once ledger remembers, read on the loop (tests).</summary>
    internal Task<long> RememberedBytesAsync()
    {
        var (engine, loop) = (_engine, _loop);
        return engine is null || loop is null ? Task.FromResult(0L) : loop.ReadAsync(() => engine.RememberedBytes);
    }

    /// <summary>Binds the endpoint and starts brokering.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The broker was already started.");
        }

        var loop = _transport.CreateLoop("courier-broker", _logger);
        BrokerEngine engine;
        try
        {
            engine = new BrokerEngine(_options, loop, _logger, _security);
        }
        catch (Exception ex)
        {
            loop.Dispose();
            Volatile.Write(ref _state, 2);
            throw new InvalidOperationException($"Cannot bind {_options.Endpoint}: {ex.Message}", ex);
        }

        _engine = engine;
        _loop = loop;
        var tick = TimeSpan.FromTicks(Math.Clamp(_options.HeartbeatInterval.Ticks / 10, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromMilliseconds(250).Ticks));
        loop.Start(tick, engine.OnTick, engine.OnTurnEnd, engine.OnStopped);
        _gauges = LiveGauges.Register(engine.Gauges);
        BrokerLog.Listening(_logger, engine.Endpoint, _transport.Name);
        return Task.CompletedTask;
    }

    /// <summary>Stops brokering and closes the socket. Requests still queued are lost to the broker; their clients' retries recover them.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _state, 2) == 1)
        {
            _gauges?.Dispose();
            _loop!.Dispose();
        }

        _security?.Dispose();

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
