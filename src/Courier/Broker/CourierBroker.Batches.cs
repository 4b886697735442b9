using System.Text;
using Courier.Broker.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;

namespace Courier.Broker;

// Loop thread only: clients' batches of requests, and batches of replies to them (docs/protocol.md §6).
public sealed partial class CourierBroker
{
    private readonly ClientReplyBatches _clientReplies = new();

    /// <summary>
    /// <c>envelope…, "", "CURB03"+0x01+records</c>: each record is a request like a <c>"CURC02"</c> one. The frame is
    /// copied once and every request's body is a slice of that copy, kept until its reply.
    /// </summary>
    private void OnClientBatch(MessageFrames message)
    {
        var (envelope, data) = Batch.TakeClientBatch(message);
        envelope[0] = PeerId(envelope[0]); // shared with the client's other requests
        var reader = new BatchReader(data);
        while (reader.TryRead(out var record))
        {
            var name = ServerRequestParser.ServiceName(record.Tag);
            if (name is null)
            {
                RejectBatched(envelope, record.Id, "?", CourierStatus.BadRequest, Batch.InvalidServiceName);
                continue;
            }

            if (name.StartsWith("mmi.", StringComparison.Ordinal))
            {
                var answer = AnswerMmi(name, record.Body, RequestKind.Courier);
                _clientReplies.SendOne(_socket!, envelope, record.Id, CourierStatus.Ok, answer.ToArray());
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

            service.Queue.AddLast(RentRequest().SetBatched(++_nextToken, envelope, record.Id, data.AsMemory(record.BodyOffset, record.Body.Length), service));
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
        _clientReplies.SendOne(_socket!, envelope, id, status, [Encoding.UTF8.GetBytes(reason)]);
    }
}
