using Courier.Extensions.Hosting;
using Courier.Protocol;
using Courier.Server;
using Inventory.Contracts;

namespace Inventory.Worker;

/// <summary>Answers inventory.stock; made by dependency injection for each request.</summary>
public sealed class StockHandler(StockTable table, ILogger<StockHandler> logger) : ICourierHandler<StockQuery, StockLevel>
{
    public ValueTask<StockLevel> HandleAsync(StockQuery request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Sku))
        {
            throw new CourierServiceException(CourierStatus.BadRequest, "sku is required");
        }

        if (!table.TryGet(request.Sku, out var available))
        {
            throw new CourierServiceException(CourierStatus.NotFound, $"no item '{request.Sku}'");
        }

        Log.Served(logger, request.Sku, available);
        return ValueTask.FromResult(new StockLevel(request.Sku, available, table.Warehouse));
    }
}

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "Stock of {Sku}: {Available}")]
    public static partial void Served(ILogger logger, string sku, int available);
}
