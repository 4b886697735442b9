using System.Buffers.Binary;
using System.Text;
using Courier.Diagnostics.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Client.Internal;

/// <summary>
/// A client's loop-side state: the requests in flight (by id), those waiting for a free slot or the probe, their two
/// lists of timeouts, and the current <see cref="ClientConnection"/>. Replies complete requests; timeouts fail them or,
/// the Lazy Pirate way, replace the connection and resend. Loop thread only.
/// </summary>
internal sealed class ClientEngine : ISocketHandler, IGaugeSource, IDisposable
{
    private readonly CourierClientOptions _options;
    private readonly ITransportLoop _loop;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly Dictionary<ulong, PendingRequest> _pending = [];
    private readonly Queue<PendingRequest> _waiting = new();
    private readonly TimeoutList _attemptTimeouts = new(TimeoutKind.Attempt);
    private readonly TimeoutList _deadlines = new(TimeoutKind.Deadline);
    private readonly List<byte[]> _received = [];
    private ClientConnection? _connection;
    private int _endpointIndex = -1;
    private bool _closed;

    public ClientEngine(CourierClientOptions options, ITransportLoop loop, ILogger logger)
    {
        _options = options;
        _loop = loop;
        _clock = options.TimeProvider;
        _logger = logger;
    }

    private string Endpoint => _connection?.Endpoint ?? "";

    public void Submit(PendingRequest request)
    {
        if (request.Task.IsCompleted)
        {
            ClientTelemetry.Cancelled(request);
            return; // cancelled before the loop saw it
        }

        if (_closed)
        {
            request.TrySetException(new CourierClosedException("The client was disposed."));
            return;
        }

        var now = _clock.GetTimestamp();
        request.StartedAt = now;
        request.Deadline = _options.Deadline is { } deadline ? now + Ticks(deadline) : long.MaxValue;
        request.Attempts = 1;
        _pending.Add(request.Id, request);
        if (request.Deadline != long.MaxValue)
        {
            _deadlines.AddLast(request);
        }

        Dispatch(request);
    }

    /// <summary>A request the caller cancelled: forget it; in plain mode its reply would be mistaken for the next one's.</summary>
    public void Forget(PendingRequest request)
    {
        if (!_pending.Remove(request.Id))
        {
            return;
        }

        ClientTelemetry.Cancelled(request);
        _attemptTimeouts.Remove(request);
        _deadlines.Remove(request);
        if (request.Sent && _connection is { } connection)
        {
            connection.SentCount--;
        }

        if (ReferenceEquals(_connection?.PlainOutstanding, request))
        {
            Reconnect(resend: true, _clock.GetTimestamp());
        }
        else
        {
            SendWaiting();
        }
    }

    /// <summary>Fails every outstanding request with <see cref="CourierClosedException"/>, closes the connection and takes no more.</summary>
    public void Dispose()
    {
        _closed = true;
        var error = new CourierClosedException("The client was disposed before the reply arrived.");
        foreach (var request in _pending.Values.ToArray())
        {
            request.Cancellation.Dispose();
            ClientTelemetry.Completed(request, _clock, error);
            request.TrySetException(error);
        }

        _pending.Clear();
        _attemptTimeouts.Clear();
        _deadlines.Clear();
        _waiting.Clear();
        Disconnect();
    }

    public bool OnMessage(MessageFrames message)
    {
        switch (ClientInbound.Classify(message))
        {
            case ClientMessageKind.CourierReply:
                OnCourierReply(message);
                break;
            case ClientMessageKind.ReplyBatch:
                OnReplyBatch(message);
                break;
            case ClientMessageKind.MdpReply:
                message.CopyTo(_received);
                OnMdpReply(_received);
                break;
            default:
                ClientLog.Unexpected(_logger, message.Count, Endpoint, "neither a 7/MDP nor a Courier reply");
                break;
        }

        // No reply awaited: asking for more would cost a system call that the check before the loop next blocks makes
        // anyway (this socket was used), and that the next request's send would undo.
        return _connection is { SentCount: > 0 };
    }

    /// <summary>Requests made from replies' continuations leave together at the turn's end.</summary>
    public bool EndTurnAfterFirstMessage => false;

    void ISocketHandler.OnPeerDisconnected(ReadOnlySpan<byte> routingId)
    {
    }

    /// <summary>The loop's end of turn: the requests packed this turn leave.</summary>
    public void OnTurnEnd() => _connection?.Flush();

    /// <summary>Fails requests past their deadline or out of attempts; replaces the connection when an attempt or the probe timed out.</summary>
    public void OnTick()
    {
        var now = _clock.GetTimestamp();
        var connectionTimedOut = _connection is { } connection && now >= connection.Negotiation.ProbeDeadline;
        while (_deadlines.First is { } late && _deadlines.DueOf(late) <= now)
        {
            Fail(late, TimedOut(late, now));
        }

        while (_attemptTimeouts.First is { } expired && _attemptTimeouts.DueOf(expired) <= now)
        {
            if (expired.Attempts >= _options.MaxAttempts)
            {
                Fail(expired, TimedOut(expired, now));
                continue;
            }

            // Still pending: the reconnect below gives it its next attempt (and a new place in the list).
            _attemptTimeouts.Remove(expired);
            connectionTimedOut = true;
        }

        if (connectionTimedOut && _pending.Count > 0)
        {
            ClientLog.Reconnecting(_logger, Endpoint, _options.Timeout, _pending.Count);
            Reconnect(resend: true, now);
        }
        else if (connectionTimedOut)
        {
            Disconnect(); // the probe went unanswered and nothing waits: connect afresh on the next request
        }
    }

    /// <summary>
    /// The current connection, or a new one to the next endpoint the transport accepts (each tried once); null, with the
    /// last reason, when it refuses them all.
    /// </summary>
    private ClientConnection? EnsureConnected(out CourierUnreachableException? error)
    {
        error = null;
        if (_connection is { } connection)
        {
            return connection;
        }

        var endpoints = _options.ConnectEndpoints;
        for (var tried = 0; tried < endpoints.Count; tried++)
        {
            _endpointIndex = (_endpointIndex + 1) % endpoints.Count;
            var endpoint = endpoints[_endpointIndex];
            ClientLog.Connecting(_logger, endpoint, _options.Protocol.ToString());
            try
            {
                _connection = new ClientConnection(_loop, endpoint, _options, this, _clock.GetTimestamp() + Ticks(_options.Timeout));
                if (CourierMetrics.ClientConnections.Enabled)
                {
                    CourierMetrics.ClientConnections.Add(1);
                }

                return _connection;
            }
#pragma warning disable CA1031 // Whatever the transport throws for this address fails the requests that needed it, not the loop.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                error = new CourierUnreachableException(endpoint, ex);
            }
        }

        return null;
    }

    private void Disconnect()
    {
        if (_connection is null)
        {
            return;
        }

        _connection.Dispose();
        _connection = null;

        // Nothing is on a connection any more: a request failed before it is given to the next must not count against it.
        foreach (var request in _pending.Values)
        {
            request.Sent = false;
        }
    }

    /// <summary>Gives <paramref name="request"/> to the current connection: sends it now or queues it behind the probe or a busy slot.</summary>
    private void Dispatch(PendingRequest request)
    {
        request.Sent = false;
        request.AttemptDeadline = _clock.GetTimestamp() + Ticks(_options.Timeout);
        _attemptTimeouts.AddLast(request);
        if (EnsureConnected(out var error) is not { } connection)
        {
            Fail(request, error!);
            return;
        }

        if (connection.CanSendNow)
        {
            connection.Send(request);
        }
        else
        {
            _waiting.Enqueue(request);
        }
    }

    private void SendWaiting()
    {
        while (_connection is { CanSendNow: true } connection && _waiting.TryDequeue(out var next))
        {
            if (!next.Task.IsCompleted)
            {
                connection.Send(next);
            }
        }
    }

    /// <summary>
    /// Lazy Pirate: drop the connection (anything still queued in it is lost), open a fresh one to the next endpoint
    /// and give it every outstanding request. Requests whose own attempt expired use up one attempt.
    /// </summary>
    /// <param name="resend">Give the outstanding requests to the new connection.</param>
    /// <param name="now">
    /// The moment the attempts are judged at: the tick's, not a later one, so an attempt that expired only while the
    /// connection was being replaced is not counted (or resent past its last attempt) behind the tick's back.
    /// </param>
    private void Reconnect(bool resend, long now)
    {
        Disconnect();
        _waiting.Clear();
        if (!resend || _pending.Count == 0)
        {
            return;
        }

        foreach (var request in _pending.Values.OrderBy(r => r.Id).ToArray())
        {
            if (request.AttemptDeadline <= now)
            {
                if (request.Attempts >= _options.MaxAttempts || now >= request.Deadline)
                {
                    Fail(request, TimedOut(request, now));
                    continue;
                }

                request.Attempts++;
                ClientTelemetry.Retried(request);
            }

            Dispatch(request);
        }
    }

    /// <summary>A Courier reply, read in place: only the body, which the caller gets to keep, is copied out.</summary>
    private void OnCourierReply(MessageFrames message)
    {
        // "", "CURC02" + id + status, body…
        var header = message[1];
        var id = BinaryPrimitives.ReadUInt64BigEndian(header[CourierFrame.Header.Length..]);
        if (!_pending.TryGetValue(id, out var request) || !request.Sent)
        {
            return; // a late reply to a request already answered, resent or abandoned
        }

        var status = StatusFrames.Parse(header[CourierFrame.PrefixLength..]);
        if (status == CourierStatus.Ok)
        {
            var body = new ReadOnlyMemory<byte>[message.Count - 2];
            for (var f = 0; f < body.Length; f++)
            {
                body[f] = message.ToArray(f + 2);
            }

            Complete(request, new CourierReply(request.Service, body));
        }
        else
        {
            Fail(request, Error(request, status, message.Count > 2 ? Encoding.UTF8.GetString(message[2]) : "(no message)"));
        }
    }

    /// <summary>A batch of replies (docs/protocol.md §6): each body is copied out for its caller to keep.</summary>
    private void OnReplyBatch(MessageFrames message)
    {
        var reader = new BatchReader(message[1]);
        while (reader.TryRead(out var record))
        {
            if (!_pending.TryGetValue(record.Id, out var request) || !request.Sent)
            {
                continue; // a late reply to a request already answered, resent or abandoned
            }

            var status = StatusFrames.Parse(record.Tag);
            if (status == CourierStatus.Ok)
            {
                Complete(request, new CourierReply(request.Service, [record.Body.ToArray()]));
            }
            else
            {
                Fail(request, Error(request, status, Encoding.UTF8.GetString(record.Body)));
            }
        }

        if (reader.Malformed)
        {
            ClientLog.Unexpected(_logger, message.Count, Endpoint, "a batch of replies with a malformed record");
        }
    }

    /// <summary>A 7/MDP reply: the probe's answer, or the answer to the one plain request outstanding.</summary>
    private void OnMdpReply(List<byte[]> frames)
    {
        var connection = _connection!;
        if (connection.Negotiation.Mode == PeerMode.Probing && Negotiation.IsProbeAnswer(frames))
        {
            connection.Negotiation.Answered(frames); // an offer of courier/3 is never asked again
            var courier = connection.Negotiation.Mode == PeerMode.Courier;
            ClientLog.Negotiated(_logger, Endpoint, courier ? "Courier" : "plain 7/MDP");
            SendWaiting();
            return;
        }

        if (connection.PlainOutstanding is not { } request || !frames[2].AsSpan().SequenceEqual(request.ServiceFrame))
        {
            ClientLog.Unexpected(_logger, frames.Count, Endpoint, "a 7/MDP reply with no request outstanding for its service");
            return;
        }

        connection.PlainOutstanding = null;
        Complete(request, new CourierReply(request.Service, [.. frames.Skip(3).Select(f => (ReadOnlyMemory<byte>)f)]));
    }

    private Exception Error(PendingRequest request, int status, string message) => status < 0
        ? new CourierProtocolException($"Reply from {Endpoint} to '{request.Service}' has no valid status.")
        : new CourierRemoteException(request.Service, status, message);

    private CourierTimeoutException TimedOut(PendingRequest request, long now)
        => new(request.Service, request.Attempts, _clock.GetElapsedTime(request.StartedAt, now));

    private void Complete(PendingRequest request, CourierReply reply)
    {
        Remove(request);
        ClientTelemetry.Completed(request, _clock, null);
        request.TrySetResult(reply);
    }

    private void Fail(PendingRequest request, Exception error)
    {
        Remove(request);
        ClientTelemetry.Completed(request, _clock, error);
        request.TrySetException(error);
    }

    /// <summary>Requests not yet completed: read off the loop by a metrics collection (a count, torn reads impossible).</summary>
    void IGaugeSource.Read(GaugeReadings readings) => readings.Add(Gauge.ClientActive, _pending.Count);

    private void Remove(PendingRequest request)
    {
        if (_pending.Remove(request.Id) && request.Sent && _connection is { } connection)
        {
            connection.SentCount--;
        }

        _attemptTimeouts.Remove(request);
        _deadlines.Remove(request);
        if (_connection is { } current && ReferenceEquals(current.PlainOutstanding, request))
        {
            current.PlainOutstanding = null;
        }

        request.Cancellation.Dispose();
        SendWaiting();
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _clock.TimestampFrequency);
}
