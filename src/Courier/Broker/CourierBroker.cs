using Courier.Broker.Internal;
using Courier.Internal;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Broker;

/// <summary>
/// A Majordomo (7/MDP) broker: clients and workers connect to one endpoint; each request goes to the least-loaded
/// worker of its service. Workers are heartbeated both ways; a dead worker's requests go back to the front of the
/// queue; a request that kills <see cref="CourierBrokerOptions.MaxWorkerDeaths"/> workers is answered with an error.
/// </summary>
public sealed partial class CourierBroker : IAsyncDisposable
{
    /// <summary>What the ROUTER socket delivers, after a peer's routing id, when that peer's connection drops.</summary>
    private static readonly byte[] DisconnectNotice = [0xFF, (byte)'c', (byte)'o', (byte)'u', (byte)'r', (byte)'i', (byte)'e', (byte)'r', 0xFE];

    private readonly CourierBrokerOptions _options;
    private readonly ILogger _logger;
    private readonly ITransport _transport;
    private readonly TimeProvider _clock;
    private ITransportLoop? _loop;
    private ITransportSocket? _socket;
    private int _state; // 0 new, 1 running, 2 stopped

    /// <summary>Creates a broker; <see cref="StartAsync"/> binds it.</summary>
    public CourierBroker(CourierBrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _clock = options.TimeProvider;
        _logger = options.LoggerFactory.CreateLogger<CourierBroker>();
        _transport = TransportResolver.Resolve(options.Transport, _logger);
        _livenessTicks = (long)(options.HeartbeatInterval.TotalSeconds * options.HeartbeatLiveness * _clock.TimestampFrequency);
        _heartbeatTicks = (long)(options.HeartbeatInterval.TotalSeconds * _clock.TimestampFrequency);
    }

    /// <summary>The endpoint actually bound; null before start.</summary>
    public string? Endpoint { get; private set; }

    /// <summary>Binds the endpoint and starts brokering.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The broker was already started.");
        }

        var socket = _transport.CreateSocket(SocketKind.Router, _options.Transport, DisconnectNotice);
        try
        {
            Endpoint = socket.Bind(_options.Endpoint);
        }
        catch (Exception ex)
        {
            socket.Dispose();
            Volatile.Write(ref _state, 2);
            throw new InvalidOperationException($"Cannot bind {_options.Endpoint}: {ex.Message}", ex);
        }

        _socket = socket;
        _loop = _transport.CreateLoop("courier-broker");
        _loop.Add(socket, OnReadable);
        var tick = TimeSpan.FromTicks(Math.Clamp(_options.HeartbeatInterval.Ticks / 10, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromMilliseconds(250).Ticks));
        _nextHeartbeat = _clock.GetTimestamp() + _heartbeatTicks;
        _loop.Start(tick, OnTick);
        BrokerLog.Listening(_logger, Endpoint, _transport.Name);
        return Task.CompletedTask;
    }

    /// <summary>Runs <paramref name="query"/> on the broker's loop and returns its result (for statistics and tests).</summary>
    internal Task<T> QueryAsync<T>(Func<T> query)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _loop!.Post(() => result.TrySetResult(query()));
        return result.Task;
    }

    /// <summary>Stops brokering and closes the socket. Requests still queued are lost to the broker; their clients' retries recover them.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _state, 2) == 1)
        {
            _loop!.Dispose();
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
