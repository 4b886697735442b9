using Courier.Transport.Internal;

namespace Courier.Protocol.Internal;

/// <summary>What a worker receives from its broker.</summary>
internal enum WorkerMessageKind
{
    /// <summary>Not a message a worker expects.</summary>
    Unexpected,

    /// <summary>The answer to the worker's 8/MMI probe (<c>"", "MDPC01", "mmi.courier", …</c>).</summary>
    ProbeAnswer,

    /// <summary><c>"CURW02"+0x02+token[+service], body…</c>: a Courier REQUEST, answered by its token; under courier/4 the header names its service.</summary>
    CourierRequest,

    /// <summary><c>"CURW05"+0x02+token+budget+service+headers, body…</c>: a courier/5 REQUEST.</summary>
    Courier5Request,

    /// <summary><c>"CURW05"+0x06+token</c>: the broker cancels a request it gave this worker (courier/5).</summary>
    Cancel,

    /// <summary><c>"CURB03"+0x03+records</c>: a batch of Courier REQUESTs (docs/protocol.md §6); under courier/4 each record's tag is its service.</summary>
    RequestBatch,

    /// <summary><c>"", "MDPW01", command, …</c>: a 7/MDP command (REQUEST, HEARTBEAT, DISCONNECT).</summary>
    MdpCommand,
}

internal static class WorkerInbound
{
    public static WorkerMessageKind Classify(MessageFrames message)
    {
        if (message.Count == 1 && (Batch.Is(message[0], Batch.WorkerRequest) || Batch.Is(message[0], Batch.WorkerRequest5)))
        {
            return WorkerMessageKind.RequestBatch;
        }

        if (message.Count >= 1 && CourierWorkerFrame5.Is(message[0], MdpWorker.Request))
        {
            return WorkerMessageKind.Courier5Request;
        }

        if (message.Count == 1 && message.Length(0) == CourierWorkerFrame5.CancelLength && CourierWorkerFrame5.Is(message[0], CourierWorkerFrame5.Cancel))
        {
            return WorkerMessageKind.Cancel;
        }

        if (message.Count >= 1 && CourierWorkerFrame.IsRequest(message[0]))
        {
            return WorkerMessageKind.CourierRequest;
        }

        if (message.Count >= 3 && message.Length(0) == 0 && message[1].SequenceEqual(Mdp.ClientHeader)
            && message[2].SequenceEqual(ProtocolVersions.ProbeServiceBytes))
        {
            return WorkerMessageKind.ProbeAnswer;
        }

        return message.Count >= 3 && message.Length(0) == 0 && message[1].SequenceEqual(Mdp.WorkerHeader) && message.Length(2) == 1
            ? WorkerMessageKind.MdpCommand
            : WorkerMessageKind.Unexpected;
    }
}
