using Courier.Protocol.Internal;

namespace Courier.Serving.Internal;

/// <summary>What a server or broker holds for a request in progress: the request as it came, whose route a repeat takes.</summary>
internal interface IRunningRequest
{
    InboundRequest Inbound { get; }
}

/// <summary>How a server and a broker alike answer a repeated attempt of a courier/5 request (docs/protocol.md §8).</summary>
internal static class RepeatedAttempts
{
    /// <summary>
    /// A repeat of a request in progress takes over its reply address and is released; one of a request answered gets the
    /// remembered reply. False when the ledger knows neither: the request is new (or forgotten) and may run.
    /// </summary>
    public static bool Join<TRunning>(this DeliveryLedger<TRunning> ledger, InboundRequest request, ClientFrontEnd frontEnd)
        where TRunning : class, IRunningRequest
    {
        var key = request.Key;
        if (ledger.TryGetRunning(key, out var running))
        {
            running.Inbound.TakeRouteOf(request);
            frontEnd.Release(request);
            return true;
        }

        if (ledger.TryGetAnswer(key, out var answer))
        {
            frontEnd.Answer(request, answer.Status, answer.Body, answer.Headers);
            return true;
        }

        return false;
    }
}
