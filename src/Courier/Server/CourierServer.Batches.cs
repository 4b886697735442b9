using System.Collections.Concurrent;
using System.Text;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Server.Internal;
using Courier.Transport.Internal;

namespace Courier.Server;

// Loop thread only, except FinishBatchedAsync: clients' batches of requests and the batches of replies to them
// (docs/protocol.md §6).
public sealed partial class CourierServer
{
    private readonly ClientReplyBatches _clientReplies = new();
    private readonly ConcurrentQueue<(Work Work, int Status, IReadOnlyList<ReadOnlyMemory<byte>> Body)> _completions = new();
    private Action? _drainCompletions;
    private int _completionsScheduled;

    /// <summary>
    /// <c>envelope…, "", "CURB03"+0x01+records</c>: each record is checked and run like a <c>"CURC02"</c> request. The
    /// frame is copied once; every request's body is a slice of that copy.
    /// </summary>
    private void AcceptBatch(MessageFrames message)
    {
        var (envelope, data) = Batch.TakeClientBatch(message);
        var reader = new BatchReader(data);
        while (reader.TryRead(out var record))
        {
            var service = ServerRequestParser.ServiceName(record.Tag);
            if (service is null)
            {
                RejectBatched(envelope, record.Id, "?", CourierStatus.BadRequest, Batch.InvalidServiceName);
            }
            else if (service.StartsWith("mmi.", StringComparison.Ordinal))
            {
                _clientReplies.SendOne(_socket!, envelope, record.Id, CourierStatus.Ok, AnswerMmi(service, record.Body, RequestKind.Courier).ToArray());
            }
            else if (!_handlers.TryGetValue(service, out var handler))
            {
                RejectBatched(envelope, record.Id, service, CourierStatus.NotFound, $"no service '{service}' here");
            }
            else if (_draining)
            {
                RejectBatched(envelope, record.Id, service, CourierStatus.Unavailable, "server is shutting down");
            }
            else if (record.Body.Length > _options.MaxRequestSize)
            {
                RejectBatched(envelope, record.Id, service, CourierStatus.TooLarge, $"request body of {record.Body.Length} bytes exceeds the limit of {_options.MaxRequestSize}");
            }
            else
            {
                var parsed = new ParsedRequest(envelope.Length, RequestKind.Courier, service, -1, null);
                if (!TryRun(new Work(envelope, parsed, handler, record.Id, [data.AsMemory(record.BodyOffset, record.Body.Length)])))
                {
                    RejectBatched(envelope, record.Id, service, CourierStatus.Unavailable, $"server busy: {_queue.Count} requests queued");
                }
            }
        }

        if (reader.Malformed)
        {
            ServerLog.Dropped(_logger, message.Count, "a batch with a malformed record: the rest of it is ignored");
        }
    }

    private void RejectBatched(byte[][] envelope, ulong id, string service, int status, string reason)
    {
        ServerLog.Rejected(_logger, service, status, reason);
        _clientReplies.SendOne(_socket!, envelope, id, status, [Encoding.UTF8.GetBytes(reason)]);
    }

    private void ReplyBatched(Work work, int status, IReadOnlyList<ReadOnlyMemory<byte>> body)
    {
        var frames = body as ReadOnlyMemory<byte>[] ?? [.. body];
        if (!_clientReplies.Reply(_socket!, work.Frames, work.RequestId, status, frames))
        {
            ServerLog.ReplyDropped(_logger, work.Parsed.Service!);
        }
    }

    /// <summary>Awaits a batched request's handler off the loop, then hands the reply over with others that finish meanwhile.</summary>
    private async Task FinishBatchedAsync(Work work, ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> pending)
    {
        int status;
        IReadOnlyList<ReadOnlyMemory<byte>> body;
        try
        {
            body = await pending.ConfigureAwait(false) ?? [];
            status = CourierStatus.Ok;
        }
        catch (OperationCanceledException) when (_handlerCancellation.IsCancellationRequested)
        {
            status = CourierStatus.Unavailable;
            body = [Encoding.UTF8.GetBytes("cancelled: server shut down before the request finished")];
        }
#pragma warning disable CA1031 // A handler's failure, whatever it is, becomes an error reply; the server keeps serving.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ServerLog.HandlerFailed(_logger, ex, work.Parsed.Service!);
            status = CourierStatus.ServerError;
            body = [Encoding.UTF8.GetBytes($"{ex.GetType().Name}: {ex.Message}")];
        }

        _completions.Enqueue((work, status, body));
        if (Interlocked.Exchange(ref _completionsScheduled, 1) == 0)
        {
            _loop!.Post(_drainCompletions ??= DrainCompletions);
        }
    }

    private void DrainCompletions()
    {
        Volatile.Write(ref _completionsScheduled, 0);
        while (_completions.TryDequeue(out var completion))
        {
            ReplyBatched(completion.Work, completion.Status, completion.Body);
            Finished();
        }

        _clientReplies.Flush(_socket!);
    }
}
