using Courier.Transport.Internal;

namespace Courier.Protocol.Internal;

/// <summary>What a message on the broker's one ROUTER socket is: a worker's (by its 7/MDP or Courier header) or a client's.</summary>
internal enum BrokerMessageKind
{
    /// <summary>Anything else: a client's request, decoded by the front end (REQ, 7/MDP, Courier, a batch).</summary>
    Client,

    /// <summary><c>id, "CURW02"+0x03+token+status, body…</c>: a Courier worker's REPLY.</summary>
    WorkerCourierReply,

    /// <summary><c>id, "CURW05"+0x03+token+status+headers, body…</c>: a courier/5 worker's REPLY with headers.</summary>
    WorkerCourier5Reply,

    /// <summary><c>id, "CURB03"+0x04+records</c>: a worker's batch of REPLYs (docs/protocol.md §6).</summary>
    WorkerReplyBatch,

    /// <summary><c>id, "", "MDPW01", command, …</c>: a 7/MDP worker command.</summary>
    WorkerCommand,
}

internal static class BrokerInbound
{
    public static BrokerMessageKind Classify(MessageFrames message)
    {
        if (message.Count >= 2 && CourierWorkerFrame.Is(message[1], MdpWorker.Reply, CourierWorkerFrame.ReplyLength))
        {
            return BrokerMessageKind.WorkerCourierReply;
        }

        if (message.Count >= 2 && message.Length(1) >= CourierWorkerFrame5.ReplyFixedLength && CourierWorkerFrame5.Is(message[1], MdpWorker.Reply))
        {
            return BrokerMessageKind.WorkerCourier5Reply;
        }

        if (message.Count == 2 && Batch.Is(message[1], Batch.WorkerReply))
        {
            return BrokerMessageKind.WorkerReplyBatch;
        }

        return message.Count >= 4 && message.Length(1) == 0 && message[2].SequenceEqual(Mdp.WorkerHeader)
            ? BrokerMessageKind.WorkerCommand
            : BrokerMessageKind.Client;
    }
}
