using System.Runtime.InteropServices;
using System.Text;
using Courier.Internal;
using Courier.Transport.Internal;

namespace Courier.Protocol.Internal;

/// <summary>
/// Encodes replies to clients by their <see cref="ReplyRoute"/>, in the framing each client used. Replies to a batch's
/// records are packed per client (docs/protocol.md §6) until <see cref="Flush"/>, at the end of the loop's turn. Used by
/// the server and the broker alike. Loop thread only.
/// </summary>
internal sealed class ClientReplyWriter(ITransportSocket socket)
{
    private const int SpareBatches = 64;
    private static readonly byte[] StatusOk = StatusFrames.Of(CourierStatus.Ok);
    private readonly ITransportSocket _socket = socket;
    private readonly Dictionary<byte[], BatchWriter> _batches = new(ByteArrayComparer.Instance);
    private readonly Stack<BatchWriter> _spare = new();
    private readonly byte[] _header = new byte[CourierFrame.ReplyLength];
    private byte[]? _header5;
    private readonly List<ReadOnlyMemory<byte>> _outgoing = [];
    private LoneHeader? _loneReplyHeader;

    /// <summary>Why the last refused reply was refused (<see cref="ITransportSocket.LastRefusal"/>).</summary>
    public SendRefusal LastRefusal { get; private set; }

    /// <summary>See <see cref="ITransportSocket.LargestPendingBytes"/>.</summary>
    public long LargestPendingBytes => _socket.LargestPendingBytes;

    /// <summary>A successful reply. False when the transport refused it (the client's timeout recovers it).</summary>
    public bool Reply(in ReplyRoute route, ReadOnlySpan<ReadOnlyMemory<byte>> body) => Reply(route, body, default);

    /// <summary>
    /// A successful reply with <paramref name="headers"/> (an encoded block): they go to a courier/5 client, in a message
    /// of its own (replies with headers are never packed); other clients get the body alone.
    /// </summary>
    public bool Reply(in ReplyRoute route, ReadOnlySpan<ReadOnlyMemory<byte>> body, ReadOnlySpan<byte> headers)
    {
        if (!headers.IsEmpty && route.TakesHeaders)
        {
            return Send(route, CourierStatus.Ok, body, error: false, headers);
        }

        if (route.Framing == ClientFraming.CourierBatch && route.EnvelopeLength == 1 && Batch.Fits(body.Length, body.Length == 1 ? body[0].Length : 0, route.LargeBatches))
        {
            return AddToBatch(route.ClientId, route.RequestId, body[0].Span, route.LargeBatches);
        }

        return Send(route, CourierStatus.Ok, body, error: false);
    }

    /// <summary>A successful reply in a message of its own, never packed (8/MMI answers).</summary>
    public bool ReplyAlone(in ReplyRoute route, ReadOnlySpan<ReadOnlyMemory<byte>> body) => Send(route, CourierStatus.Ok, body, error: false);

    /// <summary>An error reply: <paramref name="status"/> and a message, in the form the client's framing has for errors.</summary>
    public bool Error(in ReplyRoute route, int status, string message, ReadOnlySpan<byte> headers = default)
        => Error(route, status, Encoding.UTF8.GetBytes(message), headers);

    /// <summary>
    /// An error reply whose message is already bytes (a worker's), with <paramref name="headers"/> (an encoded block) for
    /// a courier/5 client: other clients get the message alone.
    /// </summary>
    public bool Error(in ReplyRoute route, int status, ReadOnlyMemory<byte> message, ReadOnlySpan<byte> headers = default)
        => Send(route, status, [message], error: true, route.TakesHeaders ? headers : default);

    /// <summary>
    /// Sends every client's batch. False when a send was refused (the clients' timeouts recover it); each refused batch
    /// is also told to <paramref name="refused"/>, with why, since batches to several clients can be refused for
    /// different reasons in one flush.
    /// </summary>
    public bool Flush(Action<SendRefusal>? refused = null)
    {
        var sent = true;
        if (_batches.Count == 0)
        {
            return sent;
        }

        foreach (var (client, batch) in _batches)
        {
            if (batch.Count > 0 && !SendBatch(client, batch))
            {
                sent = false;
                refused?.Invoke(LastRefusal);
            }

            if (_spare.Count < SpareBatches)
            {
                _spare.Push(batch);
            }
        }

        _batches.Clear();
        return sent;
    }

    private bool AddToBatch(byte[] client, ulong id, ReadOnlySpan<byte> body, bool large)
    {
        if (!_batches.TryGetValue(client, out var batch))
        {
            batch = _spare.TryPop(out var spare) ? spare : new BatchWriter(Batch.ClientReply);
            batch.MaxLength = Batch.FrameBound(large);
            _batches.Add(client, batch);
        }
        else if (!large && batch.MaxLength > Batch.MaxFrameLength)
        {
            // A reply of the same client to a request that did not ask for large batches (no Courier client mixes
            // them): what is packed goes now, and the rest of the turn keeps to the smaller bound.
            var flushed = batch.Count == 0 || SendBatch(client, batch);
            batch.MaxLength = Batch.MaxFrameLength;
            batch.TryAdd(id, StatusOk, body);
            return flushed;
        }

        if (batch.TryAdd(id, StatusOk, body))
        {
            return true;
        }

        var sent = SendBatch(client, batch);
        batch.TryAdd(id, StatusOk, body);
        return sent;
    }

    private bool SendBatch(byte[] client, BatchWriter batch) => batch.SendTo(_socket, [client, Mdp.Empty], _loneReplyHeader ??= LoneReplyHeader) || Refused();

    private bool Refused()
    {
        LastRefusal = _socket.LastRefusal;
        return false;
    }

    /// <summary>A packed success sent alone: the <c>"CURC02"</c> header with its request id and 200.</summary>
    private ReadOnlyMemory<byte> LoneReplyHeader(BatchRecord record)
    {
        CourierFrame.WriteReply(_header, record.Id, CourierStatus.Ok);
        return _header;
    }

    /// <summary>One reply message: envelope, "", then what the framing puts before the body, then the body.</summary>
    private bool Send(in ReplyRoute route, int status, ReadOnlySpan<ReadOnlyMemory<byte>> body, bool error, ReadOnlySpan<byte> headers = default)
    {
        var outgoing = _outgoing;
        outgoing.Clear();
        for (var i = 0; i < route.EnvelopeLength; i++)
        {
            outgoing.Add(route.Envelope[i]);
        }

        outgoing.Add(Mdp.Empty);
        switch (route.Framing)
        {
            case ClientFraming.Courier:
            case ClientFraming.CourierBatch:
                if (!headers.IsEmpty)
                {
                    _header5 ??= new byte[CourierFrame5.ReplyFixedLength + HeaderBlock.MaxBlockLength];
                    outgoing.Add(_header5.AsMemory(0, CourierFrame5.WriteReply(_header5, route.RequestId, status, headers)));
                    break;
                }

                CourierFrame.WriteReply(_header, route.RequestId, status);
                outgoing.Add(_header);
                break;
            case ClientFraming.Mdp:
                outgoing.Add(Mdp.ClientHeader);
                outgoing.Add(route.ServiceFrame ?? Mdp.Empty);
                if (error)
                {
                    // A stock 7/MDP client has no status frame: an error body is [code, message], as 8/MMI answers.
                    outgoing.Add(StatusFrames.Of(status));
                }

                break;
            default:
                if (error)
                {
                    outgoing.Add(StatusFrames.Of(status));
                }

                break;
        }

        foreach (var frame in body)
        {
            outgoing.Add(frame);
        }

        if (outgoing.Count == route.EnvelopeLength + 1)
        {
            // REQ sockets need at least one frame after the delimiter.
            outgoing.Add(Mdp.Empty);
        }

        var sent = _socket.TrySend(CollectionsMarshal.AsSpan(outgoing)) || Refused();
        outgoing.Clear(); // holds no reply past its sending
        return sent;
    }
}
