using Courier;
using Courier.Client;
using Courier.Protocol;
using Inventory.Contracts;

// A web API in front of the inventory worker: GET /stock/{sku} asks inventory.stock through the broker named in
// Courier:Client:Endpoints (appsettings.json, or Courier__Client__Endpoints__0=tcp://broker:5555).
var builder = WebApplication.CreateSlimBuilder(args);
builder.Services.AddCourierClient();
builder.Services.AddHealthChecks().AddCourierClientCheck(InventoryServices.Stock);
builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, InventoryJson.Default));

var app = builder.Build();

app.MapGet("/stock/{sku}", async (string sku, ICourierClient courier, CancellationToken cancellationToken) =>
{
    try
    {
        var level = await courier.RequestAsync<StockQuery, StockLevel>(InventoryServices.Stock, new StockQuery(sku), InventoryJson.Default, cancellationToken);
        return Results.Ok(level);
    }
    catch (CourierRemoteException ex) when (ex.StatusCode == CourierStatus.NotFound)
    {
        return Results.NotFound(ex.RemoteMessage);
    }
    catch (CourierTimeoutException)
    {
        return Results.StatusCode(StatusCodes.Status504GatewayTimeout);
    }
});
app.MapHealthChecks("/healthz");

await app.RunAsync();
