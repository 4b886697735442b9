using System.Text;
using Courier.Client.Internal;
using Courier.Diagnostics.Internal;
using Courier.Internal;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Client;

/// <summary>
/// Sends requests and awaits their replies over ZeroMQ DEALER connections (one per endpoint), many in flight at once.
/// Thread-safe. Each request's attempt has its own timeout: an expired one is sent again, alone, with the same request
/// id; a refusal (503) is retried on another connection. A connection is replaced only when its peer stops answering a
/// probe; what it held is then sent elsewhere, or failed when it may have run and is not idempotent.
/// </summary>
public sealed class CourierClient : ICourierClient
{
    private readonly CourierClientOptions _options;
    private readonly ILogger _logger;
    private readonly ITransportLoop _loop;
    private readonly System.Collections.Concurrent.ConcurrentQueue<PendingRequest> _submissions = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> _serviceFrames = new(StringComparer.Ordinal);
    private readonly Action _drainSubmissions;
    private readonly ClientEngine _engine;
    private readonly IDisposable _gauges;
    private int _drainScheduled;
    private long _nextId;
    private int _disposed;

    /// <summary>Creates the client and its loop thread; the first request opens the connection.</summary>
    public CourierClient(CourierClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        // The endpoints copied as validated, the default spelled out: a caller's later change to its list must not reach the loop.
        options = options with { Endpoints = [.. options.ConnectEndpoints] };
        _options = options;
        _logger = options.LoggerFactory.CreateLogger<CourierClient>();
        var transport = TransportResolver.Resolve(options.Transport, _logger, options.Security.Enabled);
        // The certificates are read now: a bad file fails here, naming itself. Every connection then carries the keys.
        if (Security.Internal.ConnectorSecurity.Load(options.Security) is { } curve)
        {
            options = options with { Transport = options.Transport with { Curve = curve } };
            _options = options;
        }

        _drainSubmissions = DrainSubmissions;
        _loop = transport.CreateLoop("courier-client", _logger);
        var tick = TimeSpan.FromTicks(Math.Clamp(options.Timeout.Ticks / 20, TimeSpan.FromMilliseconds(5).Ticks, TimeSpan.FromMilliseconds(100).Ticks));
        _engine = new ClientEngine(options, _loop, _logger);
        _loop.Start(tick, _engine.OnTick, _engine.OnTurnEnd, _engine.OnLoopStopped);
        _gauges = LiveGauges.Register(_engine);
    }

    /// <summary>Creates a client for one endpoint with default options.</summary>
    public CourierClient(string endpoint)
        : this(CourierClientOptions.Default with { Endpoints = [endpoint] })
    {
    }

    /// <summary>Sends a one-frame request to <paramref name="service"/> and awaits its reply.</summary>
    /// <exception cref="CourierTimeoutException">No reply after every attempt, or past the deadline.</exception>
    /// <exception cref="CourierRemoteException">The peer answered with an error status.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public Task<CourierReply> RequestAsync(string service, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
        => RequestAsync(service, [body], cancellationToken);

    /// <summary>Sends a UTF-8 text request to <paramref name="service"/> and awaits its reply.</summary>
    public Task<CourierReply> RequestAsync(string service, string body, CancellationToken cancellationToken = default)
        => RequestAsync(service, [Encoding.UTF8.GetBytes(body ?? throw new ArgumentNullException(nameof(body)))], cancellationToken);

    /// <summary>
    /// Sends a multi-frame request to <paramref name="service"/> and awaits its reply. The frames' memory is kept
    /// (not copied) until the request completes, for resends: do not change it meanwhile.
    /// </summary>
    public Task<CourierReply> RequestAsync(string service, ReadOnlyMemory<byte>[] frames, CancellationToken cancellationToken = default)
        => RequestAsync(service, frames, CourierRequestOptions.Default, cancellationToken);

    // RS0026: as on ICourierClient, these overloads take the token last and optional, like the shipped ones.
#pragma warning disable RS0026
    /// <summary>Sends a UTF-8 text request with <paramref name="options"/> (headers, idempotent, deadline) and awaits its reply.</summary>
    public Task<CourierReply> RequestAsync(string service, string body, CourierRequestOptions options, CancellationToken cancellationToken = default)
        => RequestAsync(service, [Encoding.UTF8.GetBytes(body ?? throw new ArgumentNullException(nameof(body)))], options, cancellationToken);

    /// <summary>
    /// Sends a multi-frame request with <paramref name="options"/> (headers, idempotent, deadline; courier/5, docs/protocol.md
    /// §8) and awaits its reply. The frames' memory is kept (not copied) until the request completes.
    /// </summary>
    /// <exception cref="CourierOutcomeUnknownException">The request was not idempotent and its worker died or stalled holding it.</exception>
    public Task<CourierReply> RequestAsync(string service, ReadOnlyMemory<byte>[] frames, CourierRequestOptions options, CancellationToken cancellationToken = default)
#pragma warning restore RS0026
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(frames);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var serviceFrame = ServiceFrame(service);

        if (frames.Length > _options.Transport.MaxBodyFrames)
        {
            throw new ArgumentException(
                $"A request body of {frames.Length} frames exceeds the {_options.Transport.MaxBodyFrames} a body may have (TransportOptions.MaxFramesPerMessage less {Transport.TransportOptions.ReservedFrames}).", nameof(frames));
        }

        foreach (var frame in frames)
        {
            if (frame.Length > _options.Transport.MaxFrameSize)
            {
                throw new ArgumentException(
                    $"A request frame of {frame.Length} bytes exceeds the transport's MaxFrameSize of {_options.Transport.MaxFrameSize}.", nameof(frames));
            }
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<CourierReply>(cancellationToken);
        }

        // Only a request whose span exists carries the trace context: without a listener nothing is added or allocated.
        var activity = CourierTracing.StartClient(service);
        // A body a server or worker lent its handler (a large frame as received) is copied: this client sends it on its own
        // loop, maybe after that handler has returned and the frame was given back.
        frames = Transport.Internal.LentFrames.Owned(frames);
        // courier-incarnation is the client's own (a handler passing on the headers it was given would send a stale one).
        var callers = IncarnationHeader.Without(options.Headers);
        var request = new PendingRequest((ulong)Interlocked.Increment(ref _nextId), service, serviceFrame, frames, _options.RunContinuationsInline)
        {
            Activity = activity,
            Headers = activity is not null ? TraceHeaders.ForRequest(callers, activity)
                : callers is { Count: > 0 } headers ? headers.Encode() : [],
            Flags = (options.Idempotent ? DeliveryFlags.Idempotent : DeliveryFlags.None) | DeliveryFlags.RefusalNamesAttempt,
            DeadlineOverride = options.Deadline,
        };
        if (cancellationToken.CanBeCanceled)
        {
            request.Cancellation = cancellationToken.UnsafeRegister(
                static (state, token) =>
                {
                    var (client, pending) = ((CourierClient, PendingRequest))state!;
                    if (pending.TrySetCanceled(token))
                    {
                        client._loop.Post(() => client._engine.Forget(pending));
                    }
                },
                (this, request));
        }

        // Submissions queue up lock-free; the loop is asked to drain them once per batch, not once per request.
        _submissions.Enqueue(request);
        if (Interlocked.Exchange(ref _drainScheduled, 1) == 0)
        {
            _loop.Post(_drainSubmissions);
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            // Disposed meanwhile: the loop may be gone, and with it the drain just asked for.
            FailUnsubmitted();
        }

        return request.Task;
    }

    /// <summary>The validated, encoded service frame; cached, since most clients ask a handful of services.</summary>
    private byte[] ServiceFrame(string service)
    {
        if (_serviceFrames.TryGetValue(service, out var cached))
        {
            return cached;
        }

        var frame = Encoding.UTF8.GetBytes(service);
        if (Mdp.DecodeServiceName(frame) is null)
        {
            throw new ArgumentException($"Invalid service name '{service}': 1-255 bytes of printable UTF-8.", nameof(service));
        }

        if (_serviceFrames.Count < 1024)
        {
            _serviceFrames.TryAdd(service, frame);
        }

        return frame;
    }

    private void DrainSubmissions()
    {
        // A full fence, not a release: the count below must not be read before a caller can see the drain unscheduled.
        Interlocked.Exchange(ref _drainScheduled, 0);
        // Only what waits now: what callers add meanwhile has scheduled the next drain. So a drain is short, and one
        // reading of the clock serves all of it (deadlines are milliseconds).
        long? now = null;
        for (var waiting = _submissions.Count; waiting > 0 && _submissions.TryDequeue(out var request); waiting--)
        {
            _engine.Submit(request, now ??= _engine.Now);
        }
    }

    /// <summary>Fails every outstanding request with <see cref="CourierClosedException"/> and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _gauges.Dispose();
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _loop.Post(() =>
        {
            _engine.Dispose();
            closed.TrySetResult();
        });
        await Task.WhenAny(closed.Task, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        _loop.Dispose();
        FailUnsubmitted();
    }

    /// <summary>
    /// Ends the calls no drain took before the loop stopped. A call that passed the disposed check as disposal began
    /// is failed here or by the caller's own check after it queued: whichever dequeues it.
    /// </summary>
    private void FailUnsubmitted()
    {
        while (_submissions.TryDequeue(out var request))
        {
            request.Cancellation.Dispose();
            request.TrySetException(new CourierClosedException("The client was disposed."));
        }
    }
}
