using Courier.Server.Internal;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Server;

/// <summary>
/// Serves named services directly on a bound ROUTER socket (no broker): 7/MDP clients, Courier clients and
/// stock REQ clients alike. Requests run concurrently up to <see cref="CourierServerOptions.MaxConcurrency"/>;
/// every failure a peer can cause is answered with an error reply or dropped and logged, never fatal.
/// </summary>
public sealed class CourierServer : IAsyncDisposable
{
    private static readonly TimeSpan MinimumLinger = TimeSpan.FromSeconds(1);
    private readonly CourierServerOptions _options;
    private readonly ILogger _logger;
    private readonly ITransport _transport;
    private readonly Dictionary<string, CourierHandler> _handlers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _idempotent = new(StringComparer.Ordinal);
    private ITransportLoop? _loop;
    private readonly Security.Internal.ListenerSecurity? _security;
    private ServerEngine? _engine;
    private int _state; // 0 new, 1 running, 2 stopping, 3 stopped

    /// <summary>Creates a server with the built-in <c>echo</c> and <c>whoami</c> services mapped.</summary>
    public CourierServer(CourierServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = options.LoggerFactory.CreateLogger<CourierServer>();
        _transport = TransportResolver.Resolve(options.Transport, _logger, options.Security.Enabled);
        // Certificates, allow-list and policy are read now: a bad file fails here, naming itself, not on a loop thread.
        _security = Security.Internal.ListenerSecurity.Create(options.Security, options.Name, _transport, _logger);
        Map(CourierServices.EchoName, CourierServices.Echo, idempotent: true);
        Map(CourierServices.WhoAmIName, CourierServices.WhoAmI(options.Name), idempotent: true);
    }

    /// <summary>The endpoint actually bound (with the chosen port when the options asked for any port); null before start.</summary>
    public string? Endpoint => _engine?.Endpoint;

    /// <summary>Requests being handled right now.</summary>
    public int InFlight => _engine?.InFlight ?? 0;

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

    /// <summary>Requests waiting for a handler slot whose deadline passed or whose caller cancelled, read on the loop (tests).</summary>
    internal Task<int> QueuedFiredAsync()
    {
        var (engine, loop) = (_engine, _loop);
        return engine is null || loop is null ? Task.FromResult(0) : loop.ReadAsync(() => engine.QueuedFired);
    }

    /// <summary>Hosts <paramref name="handler"/> as <paramref name="service"/>, replacing any earlier one. Call before <see cref="StartAsync"/>.</summary>
    public CourierServer Map(string service, CourierHandler handler) => Map(service, handler, idempotent: false);

    /// <summary>
    /// Hosts <paramref name="handler"/> as <paramref name="service"/>, declared <paramref name="idempotent"/> or not: a
    /// repeated attempt of a request to a service that is not (the default) joins the run in progress or gets its
    /// remembered reply and never runs the handler again (courier/5, docs/protocol.md §8); one to an idempotent service
    /// runs again, and nothing is remembered for it. Call before <see cref="StartAsync"/>.
    /// </summary>
    public CourierServer Map(string service, CourierHandler handler, bool idempotent)
    {
        Protocol.Internal.ServiceNames.ThrowIfNotHostable(service, nameof(service));
        ArgumentNullException.ThrowIfNull(handler);

        if (Volatile.Read(ref _state) != 0)
        {
            throw new InvalidOperationException("Services must be mapped before the server starts.");
        }

        _handlers[service] = handler;
        if (idempotent)
        {
            _idempotent.Add(service);
        }
        else
        {
            _idempotent.Remove(service);
        }

        return this;
    }

    /// <summary>Binds the endpoint and starts serving. Returns once the socket is bound.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The server was already started.");
        }

        // A short linger at least, so the last replies of a graceful stop leave before the socket closes.
        var transportOptions = _options.Transport.Linger >= MinimumLinger ? _options.Transport : _options.Transport with { Linger = MinimumLinger };
        transportOptions = _security is null ? transportOptions : transportOptions with { Curve = _security.Curve };
        var loop = _transport.CreateLoop($"courier-server-{_options.Name}", _logger);
        ServerEngine engine;
        try
        {
            engine = new ServerEngine(_options, transportOptions, _handlers, _idempotent, loop, _logger, _security);
        }
        catch (Exception ex)
        {
            loop.Dispose();
            Volatile.Write(ref _state, 3);
            throw new InvalidOperationException($"Cannot bind {_options.Endpoint}: {ex.Message}", ex);
        }

        _engine = engine;
        _loop = loop;
        // Ticks fire handlers' tokens at their requests' deadlines (courier/5): that often, within 50 ms.
        loop.Start(TimeSpan.FromMilliseconds(50), engine.OnTick, engine.OnTurnEnd, engine.OnStopped);
        ServerLog.Listening(_logger, _options.Name, engine.Endpoint, _transport.Name);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Graceful stop: new requests are answered 503 (clients retry elsewhere), those in flight finish within
    /// <see cref="CourierServerOptions.DrainTimeout"/> and are then cancelled; then the socket closes.
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
            ServerLog.DrainTimedOut(_logger, InFlight);
        }
        finally
        {
            await engine.CancelHandlersAsync().ConfigureAwait(false);
            // Cancelled handlers answer 503; give their replies a moment to reach the loop.
            await Task.WhenAny(engine.Drained, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            // Let replies produced by the cancellation (or just before it) leave before the socket closes.
            var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            loop.Post(() =>
            {
                engine.OnTurnEnd();
                flushed.SetResult();
            });
            await Task.WhenAny(flushed.Task, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            await UnwrittenReplies.WaitAsync(loop, () => engine.LargestPendingBytes, _options.DrainTimeout, cancellationToken).ConfigureAwait(false);
            loop.Dispose();
            Volatile.Write(ref _state, 3);
        }
    }

    /// <summary>Stops gracefully (see <see cref="StopAsync"/>) and releases the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (Volatile.Read(ref _state) == 0)
        {
            Volatile.Write(ref _state, 3);
        }

        _engine?.Dispose();
        _security?.Dispose();
    }
}
