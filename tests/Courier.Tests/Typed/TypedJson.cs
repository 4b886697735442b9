using System.Text.Json;
using System.Text.Json.Serialization;

namespace Courier.Tests.Typed;

public sealed record StockQuery(string Sku);

public sealed record StockLevel(string Sku, int Available);

public sealed record PriceQuery(string Sku);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(StockQuery))]
[JsonSerializable(typeof(StockLevel))]
internal sealed partial class TypedJson : JsonSerializerContext;
