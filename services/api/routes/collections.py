"""A tenant's document collections: what they hold, synchronous search, deletion. Filling
them and asking questions are jobs (`rag.index`, `rag.ask`)."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status

from services.api.deps import TenantDep
from services.api.errors import unavailable
from services.api.responses import error_responses
from services.api.search_client import SearchClient, SearchUnavailable
from shared.collections import CollectionCatalog
from shared.schemas.ocr import FILE_ID_PATTERN
from shared.schemas.rag import (
    COLLECTION_PATTERN,
    CollectionDetail,
    CollectionList,
    SearchCall,
    SearchQuery,
    SearchResults,
)
from shared.storage import StorageUnavailable

router = APIRouter(prefix="/v1/collections", tags=["collections"], responses=error_responses(401, 503))

NO_COLLECTION = "no such collection"
Name = Annotated[str, Path(pattern=COLLECTION_PATTERN, description="Collection name.")]
FileId = Annotated[str, Path(pattern=FILE_ID_PATTERN, description="Id of an indexed file.")]


async def get_catalog(request: Request) -> CollectionCatalog:
    catalog: CollectionCatalog = request.app.state.collections
    return catalog


async def get_search(request: Request) -> SearchClient:
    client: SearchClient = request.app.state.search
    return client


CatalogDep = Annotated[CollectionCatalog, Depends(get_catalog)]
SearchDep = Annotated[SearchClient, Depends(get_search)]


@router.get("", summary="The tenant's collections")
async def list_collections(tenant: TenantDep, catalog: CatalogDep) -> CollectionList:
    try:
        found = await catalog.load(tenant)
    except StorageUnavailable as exc:
        raise unavailable("file storage", exc) from exc
    return CollectionList(collections=[c.summary(name) for name, c in sorted(found.collections.items())])


@router.get(
    "/{name}",
    summary="A collection's files, pages and chunks",
    responses=error_responses(meaning={404: "No such collection"}),
)
async def get_collection(name: Name, tenant: TenantDep, catalog: CatalogDep) -> CollectionDetail:
    try:
        found = (await catalog.load(tenant)).collections.get(name)
    except StorageUnavailable as exc:
        raise unavailable("file storage", exc) from exc
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NO_COLLECTION)
    return found.detail(name)


@router.post(
    "/{name}/search",
    summary="The chunks closest to a query, best first",
    responses=error_responses(400, meaning={404: "No such collection"}),
)
async def search_collection(
    name: Name, query: SearchQuery, tenant: TenantDep, catalog: CatalogDep, search: SearchDep
) -> SearchResults:
    """Exact cosine similarity over every chunk of the collection, answered by the rag service."""
    try:
        reply = await search.search(
            SearchCall(tenant=tenant, collection=name, query=query.query, top_k=query.top_k)
        )
    except SearchUnavailable as exc:
        raise unavailable("search", exc, str(exc)) from exc
    if reply.error == "unavailable":
        raise unavailable("search", RuntimeError(reply.message))
    if reply.error == "collection_empty":
        try:
            known = name in (await catalog.load(tenant)).collections
        except StorageUnavailable as exc:
            raise unavailable("file storage", exc) from exc
        if not known:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NO_COLLECTION)
    return SearchResults(results=reply.results)


@router.delete(
    "/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a collection and its chunks (the uploaded files stay)",
    responses=error_responses(meaning={404: "No such collection"}),
)
async def delete_collection(name: Name, tenant: TenantDep, catalog: CatalogDep) -> None:
    try:
        removed = await catalog.remove_collection(tenant, name)
    except StorageUnavailable as exc:
        raise unavailable("file storage", exc) from exc
    if not removed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NO_COLLECTION)


@router.delete(
    "/{name}/files/{file_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a file's chunks from a collection (the upload stays)",
    responses=error_responses(meaning={404: "No such collection, or the file is not in it"}),
)
async def delete_collection_file(name: Name, file_id: FileId, tenant: TenantDep, catalog: CatalogDep) -> None:
    try:
        removed = await catalog.remove_file(tenant, name, file_id)
    except StorageUnavailable as exc:
        raise unavailable("file storage", exc) from exc
    if not removed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file in this collection")
