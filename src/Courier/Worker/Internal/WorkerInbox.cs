using System.Buffers.Binary;
using System.Text;
using Courier.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Worker.Internal;

/// <summary>
/// The requests a broker sends, in each form a broker may use, turned into handler runs (<see cref="WorkerRequests"/>):
/// each checked against its connection's services and the worker's room, and what cannot run answered at once. What
/// is no request is counted and logged at a bounded rate. Loop thread only.
/// </summary>
internal sealed class WorkerInbox(WorkerRequests requests, ViolationLog violations, string sanitizedName, string name, ILogger logger)
{
    /// <summary>A courier/3 REQUEST: <c>"CURW02"+0x02+token[+service], body…</c>, answered by its token.</summary>
    public void OnCourierRequest(WorkerConnection connection, MessageFrames message)
    {
        var header = message[0];
        var address = new ReplyAddress(BinaryPrimitives.ReadUInt64BigEndian(header[7..]), null);
        if (Admit(connection, header[CourierWorkerFrame.RequestLength..], address, message.Count) is { } service)
        {
            requests.Run(connection, service, address, BodyFrom(message, 1));
        }
    }

    /// <summary>A courier/5 REQUEST: <c>"CURW05"+0x02+token+budget+service length+service+headers, body…</c>.</summary>
    public void OnCourier5Request(WorkerConnection connection, MessageFrames message)
    {
        var header = message.ToArray(0); // the handler keeps its headers: a copy of the header frame holds them
        if (!CourierWorkerFrame5.TryReadRequest(header, out var token, out var budgetMs, out var serviceName, out var headers))
        {
            Unexpected(message.Count, "a courier/5 REQUEST cut short");
            return;
        }

        var address = new ReplyAddress(token, null);
        if (Admit(connection, serviceName, address, message.Count) is { } service)
        {
            requests.Run(connection, service, address, BodyFrom(message, 1), budgetMs, header.AsMemory(header.Length - headers.Length));
        }
    }

    /// <summary>
    /// A batch of REQUESTs (docs/protocol.md §6): up to 64 KiB copied once, each handler's body a slice of that copy; a
    /// larger one's (courier/7) copied each on its own (<see cref="Batch.SharedCopy"/>).
    /// </summary>
    public void OnRequestBatch(WorkerConnection connection, MessageFrames message)
    {
        if (Batch.TooLarge(message.Length(0)) is { } tooLarge)
        {
            Unexpected(message.Count, tooLarge);
            return;
        }

        var shared = Batch.SharedCopy(message, 0);
        var reader = new BatchReader(shared ?? message[0]);
        var courier5 = message[0][6] == Batch.WorkerRequest5;
        while (reader.TryRead(out var record))
        {
            // Under courier/4 the tag names the service; before it, it is empty. Under courier/5 the meta holds the budget, then the headers.
            var address = new ReplyAddress(record.Id, null);
            var budgetMs = courier5 && record.Meta.Length >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(record.Meta) : 0;
            var headers = courier5 && record.Meta.Length >= 4 ? Batch.Keep(shared, record.MetaOffset + 4, record.Meta[4..]) : default;
            if (Admit(connection, record.Tag, address, 1) is { } service)
            {
                requests.Run(connection, service, address, new LentBody([Batch.Keep(shared, record.BodyOffset, record.Body)], default), budgetMs, headers);
            }
        }

        if (reader.Malformed)
        {
            Unexpected(1, "a batch with a malformed record");
        }
    }

    /// <summary>
    /// A 7/MDP REQUEST: <c>"", MDPW01, REQUEST, client address, "", body…</c>; the address is opaque and goes back
    /// unchanged. A plain 7/MDP connection carries one service.
    /// </summary>
    public void OnMdpRequest(WorkerConnection connection, MessageFrames message)
    {
        var address = new ReplyAddress(0, message.ToArray(3));
        if (Admit(connection, default, address, message.Count) is { } service)
        {
            requests.Run(connection, service, address, BodyFrom(message, message.Length(4) == 0 ? 5 : 4));
        }
    }

    /// <summary>A message that is no request the worker can read: counted, and logged at a bounded rate.</summary>
    public void Unexpected(int frameCount, string reason)
    {
        if (violations.Admit(ViolationKind.UnexpectedMessage))
        {
            WorkerLog.Unexpected(logger, name, frameCount, reason);
        }
    }

    /// <summary>
    /// The service a request may run for now; otherwise it is answered at once and null returned: 503 while stopping, 404
    /// for a service the connection does not serve, or what <see cref="WorkerRequests.Admit"/> answers.
    /// </summary>
    private WorkerService? Admit(WorkerConnection connection, ReadOnlySpan<byte> serviceName, ReplyAddress address, int frameCount)
    {
        if (requests.RefuseWhileStopping(connection, address))
        {
            return null;
        }

        if (connection.Link.Find(serviceName) is not { } service)
        {
            // The broker chose these bytes: a name that prints as itself on one line, else hex (no forged log lines).
            var name = serviceName.IsEmpty ? "(none)" : Mdp.DecodeServiceName(serviceName) ?? LogText.Hex(serviceName);
            Unexpected(frameCount, $"a request for {name}, which this connection does not serve");
            connection.Reply(address, CourierStatus.NotFound, [Encoding.UTF8.GetBytes($"no service '{name}' on worker {sanitizedName}")]);
            return null;
        }

        return requests.Admit(connection, service, address) ? service : null;
    }

    /// <summary>
    /// The frames from <paramref name="start"/> on for a handler: each an array of its own, but for large frames received
    /// as they came, which the handler borrows until its reply is sent (<see cref="LentFrames"/>).
    /// </summary>
    private static LentBody BodyFrom(MessageFrames message, int start) => LentFrames.BodyFrom(message, start);
}
