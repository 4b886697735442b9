using System.Buffers.Binary;
using System.Text;
using Courier.Client.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;

namespace Courier.Client;

// Loop thread only: request life cycle, replies, timeouts and the Lazy Pirate reconnect.
public sealed partial class CourierClient
{
    private readonly MessageFrames _message = new();
    private readonly List<byte[]> _received = [];
    private readonly TimeoutList _attemptTimeouts = new(TimeoutKind.Attempt);
    private readonly TimeoutList _deadlines = new(TimeoutKind.Deadline);

    private void Submit(PendingRequest request)
    {
        if (request.Task.IsCompleted)
        {
            return; // cancelled before the loop saw it
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            request.TrySetException(new CourierClosedException("The client was disposed."));
            return;
        }

        var now = _clock.GetTimestamp();
        request.StartedAt = now;
        request.Deadline = _options.Deadline is { } deadline ? now + ToTimestampTicks(deadline) : long.MaxValue;
        request.Attempts = 1;
        _pending.Add(request.Id, request);
        if (request.Deadline != long.MaxValue)
        {
            _deadlines.AddLast(request);
        }

        EnsureConnected();
        Dispatch(request);
    }

    /// <summary>A request the caller cancelled: forget it; in plain mode its reply would be mistaken for the next one's.</summary>
    private void Forget(PendingRequest request)
    {
        if (!_pending.Remove(request.Id))
        {
            return;
        }

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

    /// <summary>The client's side of its socket: replies, read in place where they can be.</summary>
    private sealed class SocketEvents(CourierClient client) : ISocketHandler
    {
        public bool OnMessage(MessageFrames message)
        {
            client.OnReply(message);

            // No reply awaited: asking for more would cost a system call that the check before the loop next blocks
            // makes anyway (this socket was used), and that the next request's send would undo.
            return client._connection is { SentCount: > 0 };
        }

        public void OnPeerDisconnected(ReadOnlySpan<byte> routingId)
        {
        }
    }

    private void OnReply(MessageFrames message)
    {
        if (message.Count >= 2 && message.Length(0) == 0 && message.Length(1) == Mdp.CourierReplyHeaderLength && Mdp.IsCourierHeader(message[1]))
        {
            OnCourierReply(message);
        }
        else if (message.Count == 2 && message.Length(0) == 0 && Batch.Is(message[1], Batch.ClientReply))
        {
            OnReplyBatch(message);
        }
        else
        {
            message.CopyTo(_received);
            OnMessage(_received);
        }
    }

    private void OnMessage(List<byte[]> frames)
    {
        if (frames.Count >= 3 && frames[0].Length == 0 && frames[1].AsSpan().SequenceEqual(Mdp.ClientHeader))
        {
            OnPlainReply(frames);
        }
        else
        {
            ClientLog.Unexpected(_logger, frames.Count, Endpoint, "neither a 7/MDP nor a Courier reply");
        }
    }

    /// <summary>A Courier reply, read in place: only the body, which the caller gets to keep, is copied out.</summary>
    private void OnCourierReply(MessageFrames message)
    {
        // "", "CURC02" + id + status, body…
        var header = message[1];
        var id = BinaryPrimitives.ReadUInt64BigEndian(header[Mdp.CourierClientHeader.Length..]);
        if (!_pending.TryGetValue(id, out var request) || !request.Sent)
        {
            return; // a late reply to a request already answered, resent or abandoned
        }

        var status = Mdp.ParseStatus(header[Mdp.CourierPrefixLength..]);
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
            var text = message.Count > 2 ? Encoding.UTF8.GetString(message[2]) : "(no message)";
            Fail(request, status < 0
                ? new CourierProtocolException($"Reply from {Endpoint} to '{request.Service}' has no valid status frame.")
                : new CourierRemoteException(request.Service, status, text));
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

            var status = Mdp.ParseStatus(record.Tag);
            if (status == CourierStatus.Ok)
            {
                Complete(request, new CourierReply(request.Service, [record.Body.ToArray()]));
            }
            else
            {
                Fail(request, status < 0
                    ? new CourierProtocolException($"Reply from {Endpoint} to '{request.Service}' has no valid status.")
                    : new CourierRemoteException(request.Service, status, Encoding.UTF8.GetString(record.Body)));
            }
        }

        if (reader.Malformed)
        {
            ClientLog.Unexpected(_logger, message.Count, Endpoint, "a batch of replies with a malformed record");
        }
    }

    private void OnPlainReply(List<byte[]> frames)
    {
        var service = frames[2];
        var connection = _connection!;
        if (connection.Negotiation.Mode == PeerMode.Probing && Negotiation.IsProbeAnswer(frames))
        {
            var courier = connection.Negotiation.Answered(frames) >= 2;
            ClientLog.Negotiated(_logger, Endpoint, courier ? "Courier" : "plain 7/MDP");
            SendWaiting();
            return;
        }

        if (connection.PlainOutstanding is not { } request || !service.AsSpan().SequenceEqual(request.ServiceFrame))
        {
            ClientLog.Unexpected(_logger, frames.Count, Endpoint, "a 7/MDP reply with no request outstanding for its service");
            return;
        }

        connection.PlainOutstanding = null;
        Complete(request, new CourierReply(request.Service, Frames.From(frames, 3)));
    }

    private void Complete(PendingRequest request, CourierReply reply)
    {
        Remove(request);
        request.TrySetResult(reply);
    }

    private void Fail(PendingRequest request, Exception error)
    {
        Remove(request);
        request.TrySetException(error);
    }

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

    private void FailAll(Exception error)
    {
        foreach (var request in _pending.Values.ToArray())
        {
            request.Cancellation.Dispose();
            request.TrySetException(error);
        }

        _pending.Clear();
        _attemptTimeouts.Clear();
        _deadlines.Clear();
        _waiting.Clear();
        Disconnect();
    }
}
