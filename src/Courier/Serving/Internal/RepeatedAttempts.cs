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
    private static readonly byte[] RepeatWithAnotherBody = System.Text.Encoding.UTF8.GetBytes("a repeated attempt whose body differs from its first attempt's: not joined to it");

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
            if (request.BodySize != running.Inbound.BodySize)
            {
                // A repeat carries its first attempt's body. Taking the route takes the frames, body and all: another body
                // would reach a handler unchecked for size and uncounted in the broker's queued bytes.
                frontEnd.Answer(request, Protocol.CourierStatus.BadRequest, [RepeatWithAnotherBody], []);
                return true;
            }

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
