using System.Text;
using Courier.Broker.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;

namespace Courier.Broker;

// Loop thread only: clients' batches of requests, and batches of replies to them (docs/protocol.md §7).
public sealed partial class CourierBroker
{
    private static readonly byte[] StatusOk = Mdp.StatusFrame(CourierStatus.Ok);
    private readonly Dictionary<byte[], BatchWriter> _clientBatches = new(Courier.Internal.ByteArrayComparer.Instance);
    private readonly Stack<BatchWriter> _spareClientBatches = new();

    /// <summary>
    /// <c>envelope…, "", "CURB03"+0x01+records</c>: each record is a request like a <c>"CURC02"</c> one. The frame is
    /// copied once and every request's body is a slice of that copy, kept until its reply.
    /// </summary>
    private void OnClientBatch(MessageFrames message)
    {
        var envelope = new byte[message.Count - 2][];
        envelope[0] = PeerId(message[0]);
        for (var i = 1; i < envelope.Length; i++)
        {
            envelope[i] = message.ToArray(i);
        }

        var data = message.ToArray(message.Count - 1);
        var reader = new BatchReader(data);
        while (reader.TryRead(out var record))
        {
            var name = ServerRequestParser.ServiceName(record.Tag);
            if (name is null)
            {
                RejectBatched(envelope, record.Id, "?", CourierStatus.BadRequest, "invalid service name (1-255 bytes of printable UTF-8)");
                continue;
            }

            if (name.StartsWith("mmi.", StringComparison.Ordinal))
            {
                var answer = AnswerMmi(name, record.Body, RequestKind.Courier);
                SendCourierReply(envelope, record.Id, CourierStatus.Ok, answer.ToArray());
                continue;
            }

            if (record.Body.Length > _options.MaxRequestSize)
            {
                RejectBatched(envelope, record.Id, name, CourierStatus.TooLarge, $"request body of {record.Body.Length} bytes exceeds the limit of {_options.MaxRequestSize}");
                continue;
            }

            var service = Service(name);
            if (service.Queue.Count >= _options.MaxQueuedPerService)
            {
                service.Errors++;
                RejectBatched(envelope, record.Id, name, CourierStatus.Unavailable, $"queue full: {service.Queue.Count} requests wait for '{name}'");
                continue;
            }

            service.Queue.AddLast(new BrokerRequest(++_nextToken, envelope, record.Id, data.AsMemory(record.BodyOffset, record.Body.Length), service));
            Dispatch(service);
        }

        if (reader.Malformed)
        {
            BrokerLog.Dropped(_logger, message.Count, "a batch with a malformed record: the rest of it is ignored");
        }
    }

    private void RejectBatched(byte[][] envelope, ulong id, string service, int status, string reason)
    {
        BrokerLog.Rejected(_logger, service, status, reason);
        SendCourierReply(envelope, id, status, [Encoding.UTF8.GetBytes(reason)]);
    }

    /// <summary>A reply to a batched request: into its client's batch when it can go there, else a message of its own.</summary>
    private void ReplyToBatched(BrokerRequest request, int status, ReadOnlySpan<ReadOnlyMemory<byte>> body)
    {
        if (request.Frames.Length != 1 || status != CourierStatus.Ok || !Batch.Fits(body.Length, body.Length == 1 ? body[0].Length : 0))
        {
            SendCourierReply(request.Frames, request.RequestId, status, body);
            return;
        }

        var client = request.ClientId;
        if (!_clientBatches.TryGetValue(client, out var batch))
        {
            batch = _spareClientBatches.TryPop(out var spare) ? spare : new BatchWriter(Batch.ClientReply);
            _clientBatches.Add(client, batch);
        }

        if (!batch.TryAdd(request.RequestId, StatusOk, body[0].Span))
        {
            SendClientBatch(client, batch);
            batch.TryAdd(request.RequestId, StatusOk, body[0].Span);
        }
    }

    /// <summary>One reply in the <c>"CURC02"</c> form: envelope, "", header, body.</summary>
    private void SendCourierReply(byte[][] envelope, ulong id, int status, ReadOnlySpan<ReadOnlyMemory<byte>> body)
    {
        var outgoing = _outgoing;
        outgoing.Clear();
        foreach (var frame in envelope)
        {
            outgoing.Add(frame);
        }

        outgoing.Add(Mdp.Empty);
        Mdp.WriteCourierReplyHeader(_clientReplyHeader, id, status);
        outgoing.Add(_clientReplyHeader);
        foreach (var frame in body)
        {
            outgoing.Add(frame);
        }

        _socket!.TrySend(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(outgoing));
        outgoing.Clear();
    }

    private void SendClientBatch(byte[] client, BatchWriter batch)
    {
        if (batch.Count == 1)
        {
            var record = batch.Single();
            SendCourierReply([client], record.Id, CourierStatus.Ok, [batch.Slice(record.BodyOffset, record.Body.Length)]);
        }
        else
        {
            // A refused send is lost like any other message: the client's attempt timeout recovers it.
            _socket!.TrySend([client, Mdp.Empty, batch.Frame]);
        }

        batch.Reset();
    }

    private void FlushClientReplies()
    {
        if (_clientBatches.Count == 0)
        {
            return;
        }

        foreach (var (client, batch) in _clientBatches)
        {
            if (batch.Count > 0)
            {
                SendClientBatch(client, batch);
            }

            if (_spareClientBatches.Count < 64)
            {
                _spareClientBatches.Push(batch);
            }
        }

        _clientBatches.Clear();
    }
}
